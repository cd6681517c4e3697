"""The assumed Humblytics response shapes, in one place (facts.md, "Assumed Humblytics response shapes").

The document publishes no response bodies, so every shape here is the project's working contract: parse
tolerantly (a missing optional field becomes NULL, a list that is not a list is empty) so a recorded real
response can correct an assumption here without touching the resources. Drift is kept, not dropped: an unknown
scalar field of a row's own entry becomes a column, and a number that arrives as text no parser reads stays
that text (dlt loads it into a variant column) instead of turning NULL.
No HTTP and no dlt: pure functions on decoded JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sources.common.naming import extra_columns

UNKNOWN = "unknown"  # the document: "Null or missing values are returned as "unknown""
# traffic/breakdown `data` keys, in the order rows are emitted (facts.md).
DIMENSIONS = ("utm", "countries", "devices", "landing_pages", "referrers")
UTM_PARTS = ("source", "medium", "campaign")
# How a UTM row's `value` joins its parts: GA's "source / medium" convention, extended by the campaign.
UTM_JOIN = " / "

Row = dict[str, Any]
# Columns the resources add to every row: a vendor field of the same name never overwrites them.
RESERVED = frozenset({"date", "_loaded_at", "may_be_truncated"})


@dataclass(frozen=True)
class Meta:
    """`meta` of every response: what the vendor says it answered (all fields optional)."""

    property_id: str | None = None
    start: dt.datetime | None = None  # aware; the first instant covered
    end: dt.datetime | None = None  # aware; the last instant covered (the published sample: end - 1 s)
    timezone: str | None = None
    granularity: str | None = None
    bucket_count: int | None = None


@dataclass(frozen=True)
class Kind:
    """What clicks and forms share: the count's name and the item under a page (facts.md table)."""

    count: str  # "clicks" | "submissions"
    item: str  # "target" | "form"

    @property
    def items(self) -> str:
        return f"{self.item}s"

    @property
    def unique(self) -> str:
        return f"unique_{self.count}"


CLICKS = Kind("clicks", "target")
FORMS = Kind("submissions", "form")


def parse_instant(value: Any) -> dt.datetime | None:
    """An ISO-8601 instant ("2024-05-01T04:00:00.000Z") as an aware UTC datetime; None when not one."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:  # facts.md: bucket timestamps are UTC instants
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def count(value: Any) -> int | None:
    """A count: ints, integral floats and digit strings; anything else is missing (NULL)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def ratio(value: Any) -> float | None:
    """A share (0..1): any number or numeric string; anything else is missing (NULL)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def metric(value: Any, parse: Callable[[Any], Any]) -> Any:
    """`parse(value)`, or the raw text when it is no number: a field whose type the vendor changed lands in a
    variant column (`sessions__v_text`) rather than silently becoming NULL."""
    parsed = parse(value)
    return value if parsed is None and isinstance(value, str) and value.strip() else parsed


def _with_extras(row: Row, raw: Mapping[str, Any], known: Iterable[str]) -> Row:
    return row | extra_columns(raw, frozenset(known), RESERVED | row.keys())


def text(value: Any) -> str:
    """A segment value; null or empty is the vendor's own "unknown" (the document, traffic breakdown)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return UNKNOWN
    return str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def parse_meta(payload: Any) -> Meta:
    meta = _mapping(_mapping(payload).get("meta"))
    granularity = meta.get("granularity")
    timezone = meta.get("timezone")
    prop = meta.get("property_id")
    return Meta(
        property_id=str(prop) if prop is not None else None,
        start=parse_instant(meta.get("start")),
        end=parse_instant(meta.get("end")),
        timezone=timezone if isinstance(timezone, str) else None,
        granularity=granularity if isinstance(granularity, str) else None,
        bucket_count=count(meta.get("bucket_count")),
    )


def data_of(payload: Any) -> Any:
    return _mapping(payload).get("data")


def error_message(body: Any) -> str:
    """`{"error": "<code>", "message": "<text>"}` (facts.md) → the message, lower-cased for matching."""
    message = _mapping(body).get("message")
    return message.lower() if isinstance(message, str) else ""


def parse_trends(data: Any) -> list[Row]:
    """traffic/trends `data`: `[{"bucket", "pageviews", "unique_visitors"}]`; entries without a
    readable `bucket` are skipped (they cannot be placed on a day)."""
    rows: list[Row] = []
    for raw in _objects(data):
        bucket = parse_instant(raw.get("bucket"))
        if bucket is None:
            continue
        row = {
            "bucket": bucket,
            "pageviews": metric(raw.get("pageviews"), count),
            "unique_visitors": metric(raw.get("unique_visitors"), count),
        }
        rows.append(_with_extras(row, raw, row))
    return rows


def utm_value(source: str, medium: str, campaign: str) -> str:
    return UTM_JOIN.join((source, medium, campaign))


def parse_traffic_breakdown(data: Any, limit: int) -> list[Row]:
    """traffic/breakdown `data` → one row per (dimension, value); `may_be_truncated` when a segment's list
    came back with exactly `limit` rows (the document: `limit` is a top N; nothing pages past it)."""
    segments = _mapping(data)
    rows: list[Row] = []
    for dimension in DIMENSIONS:
        entries = _objects(segments.get(dimension))
        cut = len(entries) >= limit
        for raw in entries:
            row: Row = {"dimension": dimension}
            if dimension == "utm":
                source, medium, campaign = (text(raw.get(part)) for part in UTM_PARTS)
                row |= {
                    "value": utm_value(source, medium, campaign),
                    "utm_source": source,
                    "utm_medium": medium,
                    "utm_campaign": campaign,
                }
            else:
                row |= {"value": text(raw.get("value")), "utm_source": None, "utm_medium": None, "utm_campaign": None}
            row |= {
                "sessions": metric(raw.get("sessions"), count),
                "share": metric(raw.get("share"), ratio),
                "may_be_truncated": cut,
            }
            rows.append(_with_extras(row, raw, (*UTM_PARTS, *row)))
    return rows


def parse_page_breakdown(data: Any, kind: Kind, limit: int) -> list[Row]:
    """clicks|forms/breakdown `data.pages[]` → one row per (page, target|form), with the page's totals.

    `limit` caps both the pages and each page's items, so a row may be cut at either level.
    """
    pages = _objects(_mapping(data).get("pages"))
    pages_cut = len(pages) >= limit
    rows: list[Row] = []
    for page in pages:
        name = page.get("page")
        if not isinstance(name, str) or not name:
            continue
        items = _objects(page.get(kind.items))
        cut = pages_cut or len(items) >= limit
        for raw in items:
            row = {
                "page": name,
                kind.item: text(raw.get(kind.item)),
                kind.count: metric(raw.get(kind.count), count),
                kind.unique: metric(raw.get(kind.unique), count),
                f"page_{kind.count}": metric(page.get(kind.count), count),
                f"page_{kind.unique}": metric(page.get(kind.unique), count),
                "may_be_truncated": cut,
            }
            rows.append(_with_extras(row, raw, row))  # the item's own fields; the page's unknown ones are not kept
    return rows


def pages_of(rows: Iterable[Row]) -> list[str]:
    """Distinct pages of breakdown rows, in first-seen order: the details to fetch."""
    return list(dict.fromkeys(str(row["page"]) for row in rows if row.get("page")))


def parse_details(data: Any, kind: Kind, page: str, limit: int) -> list[Row]:
    """clicks|forms/details `data.targets|forms[]` for `page` → one row per item, with its `share`.

    Rows carry the page that was asked for, so they join the breakdown's rows even if the vendor
    echoes the page in another spelling.
    """
    items = _objects(_mapping(data).get(kind.items))
    cut = len(items) >= limit
    rows = []
    for raw in items:
        row = {
            "page": page,
            kind.item: text(raw.get(kind.item)),
            kind.count: metric(raw.get(kind.count), count),
            kind.unique: metric(raw.get(kind.unique), count),
            "share": metric(raw.get("share"), ratio),
            "may_be_truncated": cut,
        }
        rows.append(_with_extras(row, raw, row))
    return rows
