"""Pure helpers for AttributionHub payloads: conversion keys, percent strings, insights flattening.

No HTTP and no dlt here. Shapes are those of attributionhub-conversions-api.txt and
attributionhub-insights-api.txt; where they are silent we parse tolerantly (facts.md): unknown scalar
fields become columns, a missing optional field is simply absent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pendulum

from sources.common.errors import ResponseFormatError
from sources.common.naming import extra_columns, snake_case
from sources.common.windows import DateWindow

from . import settings

Row = dict[str, Any]

# --- request bodies ------------------------------------------------------------------------------------


def window_body(window: DateWindow) -> dict[str, str]:
    """The window's whole days as explicit UTC instants. Both documents accept `YYYY-MM-DD` or ISO 8601 but do
    not say whether a date-only `end_date` means that day's start or its end; instants leave no doubt."""
    return {
        "start_date": f"{window.start.isoformat()}T00:00:00Z",
        "end_date": f"{window.end.isoformat()}T23:59:59Z",
    }


# --- conversions ---------------------------------------------------------------------------------------

META = "conversion_meta"
# The record's own fields (conversions document, "Response"); with the ordinal, the conversion's identity.
KEY_FIELDS = ("email", "timestamp", "conversion_page", "previous_page", "conversion_meta__type", "conversion_meta__id")
CONVERSION_KEY = "conversion_key"
ORDINAL = "ordinal"
DAY = "date"
_RESERVED = frozenset({*KEY_FIELDS, CONVERSION_KEY, ORDINAL, DAY, "_loaded_at"})


def conversion_records(payload: Any) -> list[Mapping[str, Any]]:
    """A page's records. `{"message": "No conversions matched ..."}` is an empty result, not an error
    (conversions document, "No Results")."""
    if isinstance(payload, Mapping):
        records = payload.get("records")
        if isinstance(records, list):
            return [r for r in records if isinstance(r, Mapping)]
        if records is None and ("message" in payload or "pagination" in payload):
            return []
    raise ResponseFormatError(
        f"{settings.VENDOR} answered conversions with neither records nor the no-results message "
        f"({type(payload).__name__}): report it with the request.",
        vendor=settings.VENDOR,
        endpoint="conversions",
    )


def total_records(payload: Any) -> int | None:
    """`pagination.total_records` of a page, if the page has one."""
    pagination = payload.get("pagination") if isinstance(payload, Mapping) else None
    total = pagination.get("total_records") if isinstance(pagination, Mapping) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def parse_timestamp(value: Any) -> pendulum.DateTime:
    """`"2025-03-05 15:14:00"` (the document's sample) or ISO 8601; "ISO 8601 UTC format" per the document,
    so a value without an offset is UTC."""
    if isinstance(value, str) and value.strip():
        try:
            parsed = pendulum.parse(value.strip().replace(" ", "T", 1), tz="UTC")
        except ValueError:
            parsed = None
        if isinstance(parsed, pendulum.DateTime):
            return parsed.in_timezone("UTC")
    raise ResponseFormatError(
        f"{settings.VENDOR} sent a conversion whose timestamp {value!r} is not an ISO 8601 time: report it.",
        vendor=settings.VENDOR,
        endpoint="conversions",
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def conversion_row(record: Mapping[str, Any]) -> Row:
    """The record as a row: vendor names, `conversion_meta` flattened as dlt would, `timestamp` aware UTC,
    `date` its UTC day (the day whose window returned it). No key yet: see `key_conversions`."""
    meta = record.get(META)
    meta = meta if isinstance(meta, Mapping) else {}
    stamp = parse_timestamp(record.get("timestamp"))
    row: Row = {
        "email": _text(record.get("email")),
        "timestamp": stamp,
        "conversion_page": _text(record.get("conversion_page")),
        "previous_page": _text(record.get("previous_page")),
        "conversion_meta__type": _text(meta.get("type")),
        "conversion_meta__id": _text(meta.get("id")),
        DAY: stamp.date(),
    }
    return row | extra_columns(record, (META, "timestamp"), _RESERVED)  # kept, never part of the key


def _identity(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[field].isoformat() if field == "timestamp" else row[field] for field in KEY_FIELDS)


def conversion_key(identity: tuple[Any, ...], ordinal: int) -> str:
    """A stable id from the record's own fields and its ordinal (facts.md: conversions carry no id)."""
    return hashlib.blake2b(orjson.dumps([*identity, ordinal]), digest_size=16).hexdigest()


def key_conversions(rows: Iterable[Row]) -> list[Row]:
    """Give each row `ordinal` and `conversion_key`.

    Records can be identical in every field (two submissions of one form in one session; no email), and
    each is a conversion of its own: the n-th identical record of a day gets ordinal n. Identical records
    share their timestamp, hence their day, and every request window is made of whole days, so one window
    sees all of a group: the same records give the same keys on every read, and a late copy gets the next
    ordinal instead of replacing one already loaded.
    """
    seen: Counter[tuple[Any, ...]] = Counter()
    out = []
    for row in rows:
        identity = _identity(row)
        ordinal = seen[identity]
        seen[identity] += 1
        out.append({**row, ORDINAL: ordinal, CONVERSION_KEY: conversion_key(identity, ordinal)})
    return out


# --- percent strings -----------------------------------------------------------------------------------

_PERCENT = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*%\s*$")
PCT_SUFFIX = "_pct"


def is_percent(value: Any) -> bool:
    return isinstance(value, str) and _PERCENT.match(value) is not None


def parse_percent(value: Any) -> float | None:
    """`"32.81%"` → 32.81 (facts.md: insights percentages arrive as strings); a number passes as a float;
    anything else (missing, "n/a") is None rather than a failed load."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _PERCENT.match(value) if isinstance(value, str) else None
    return float(match.group(1)) if match else None


# --- insights ------------------------------------------------------------------------------------------

SUMMARIES = ("user_summary", "session_summary", "conversion_summary")
TIMELINE = "conversion_timeline_bins"  # insights document: {counts: {bin: n}, percentages: {bin: pct}}
TIMELINE_PREFIX = "time_to_convert_"
# Fields the insights document gives as percentages (strings in its sample); loaded as `<name>_pct`.
PERCENT_FIELDS = frozenset({"conversion_rate", "session_influence", "conversion_influence"})
KEY_COLUMNS = ("segment", "window_start", "window_end")


def _metric_column(key: str, value: Any) -> tuple[str, Any] | None:
    """(column, value) of one scalar metric; averages and medians are doubles even when whole (the sample
    has `"median_converting_session_duration": 118`), so one column never gets two types."""
    column = snake_case(key)
    if key in PERCENT_FIELDS or is_percent(value):
        return column + PCT_SUFFIX, parse_percent(value)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and column.startswith(("avg_", "median_")):
        return column, float(value)
    if isinstance(value, str | int | float | bool):
        return column, value
    return None


def timeline_bin(label: str) -> str:
    """`"0-1 days"` → `0_1_days`, `"7+ days"` → `7_plus_days` (the insights document's bins)."""
    return re.sub(r"[^0-9a-z]+", "_", label.lower().replace("+", " plus ")).strip("_")


def _timeline(bins: Mapping[str, Any]) -> Row:
    """Timeline bins as columns: users per bin (`time_to_convert_0_1_days`) and their share (`..._pct`)."""
    row: Row = {}
    counts, shares = bins.get("counts"), bins.get("percentages")
    for label, count in counts.items() if isinstance(counts, Mapping) else ():
        if isinstance(count, int | float) and not isinstance(count, bool):
            row[TIMELINE_PREFIX + timeline_bin(label)] = count
    for label, share in shares.items() if isinstance(shares, Mapping) else ():
        row[TIMELINE_PREFIX + timeline_bin(label) + PCT_SUFFIX] = parse_percent(share)
    return row


def _summary(name: str, summary: Mapping[str, Any], row: Row) -> None:
    """Add one summary's metrics to `row`; a name another summary already used gets the summary prefix."""
    for key, value in summary.items():
        if key == TIMELINE and isinstance(value, Mapping):
            row.update(_timeline(value))
            continue
        metric = _metric_column(key, value)
        if metric is None:
            continue
        column, parsed = metric
        row[f"{name}__{column}" if column in row else column] = parsed


def channel_row(channel: Mapping[str, Any], key: Mapping[str, Any]) -> Row:
    """One `channels` entry with its snapshot's key columns (to join without dlt's ids)."""
    row: Row = dict(key)
    for field, value in channel.items():
        metric = _metric_column(field, value)
        if metric is not None and metric[0] not in row:
            row[metric[0]] = metric[1]
    return row


def insight_row(payload: Any, segment: str, window: DateWindow, period: str) -> Row | None:
    """One snapshot: key, the three summaries flattened, `channels` as a list (dlt makes it the child
    table). None for the no-data body (insights document, "No Results": not an error)."""
    metrics = payload.get("overall_metrics") if isinstance(payload, Mapping) else None
    if not isinstance(metrics, Mapping):
        if isinstance(payload, Mapping) and "message" in payload:
            return None
        raise ResponseFormatError(
            f"{settings.VENDOR} answered insights for {segment!r} {window} with neither overall_metrics nor the "
            "no-data message: report it with the request.",
            vendor=settings.VENDOR,
            endpoint="insights",
        )
    key = {"segment": segment, "window_start": window.start, "window_end": window.end}
    row: Row = {**key, "period": period}
    for name in SUMMARIES:
        summary = metrics.get(name)
        if isinstance(summary, Mapping):
            _summary(name, summary, row)
    channels = metrics.get(settings.CHANNELS_FIELD)
    row[settings.CHANNELS_FIELD] = [
        channel_row(c, key) for c in (channels if isinstance(channels, list) else ()) if isinstance(c, Mapping)
    ]
    return row


def month_end(day: dt.date) -> pendulum.Date:
    return pendulum.Date(day.year, day.month, 1).add(months=1).subtract(days=1)
