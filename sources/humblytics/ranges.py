"""Which `end` to send, what an answer's `meta` says it covers, and which buckets are the asked days.

The document is ambiguous about `end` (humblytics-external-analytics-api.txt: "ISO-8601 timestamp or date
that occurs after start"; facts.md: the published sample's `meta.end` reads it as exclusive, its
`bucket_count` as inclusive). Two readings, both handled:

- EXCLUSIVE (the sample's meta): data covers `[start, end)`; a date-only `end` adds one trailing, empty
  bucket at `end`. Days D1..D2 are `start=D1&end=D2+1`.
- INCLUSIVE: a date-only `end` covers its whole local day. Days D1..D2 are `start=D1&end=D2`.

Until an answer shows the reading, requests send `end=D2+1`: under EXCLUSIVE that is exact, under
INCLUSIVE a superset (one more day). Bucketed answers are then correct under both once buckets are kept
only when their local start day is in D1..D2; an aggregate answer (breakdowns, details) that covers more
or fewer days than asked is asked again with the reading its meta revealed (api.py).
Pure functions; the vendor's words about shapes live in parse.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

import pendulum

from sources.common.windows import DateWindow, plan_windows

from . import settings
from .parse import Meta, Row

# Buckets one local day costs, at most: a fall-back DST day has 25 hours.
POINTS_PER_DAY = {"day": 1, "hour": 25}
_ONE_MS = dt.timedelta(milliseconds=1)


class EndReading(StrEnum):
    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"


class MetaMismatch(ValueError):
    """The answer's `meta` contradicts the request: its rows cannot be put on the asked days."""


def end_day(last_day: pendulum.Date, reading: EndReading | None) -> pendulum.Date:
    """The `end` to send for data through `last_day`; unknown reading: the exclusive form (module doc)."""
    return last_day if reading is EndReading.INCLUSIVE else last_day.add(days=1)


def range_params(days: DateWindow, reading: EndReading | None) -> dict[str, str]:
    return {"start": days.start.isoformat(), "end": end_day(days.end, reading).isoformat()}


def trend_windows(days: DateWindow, granularity: str = settings.TREND_GRANULARITY) -> list[DateWindow]:
    """Windows of `days` whose requests stay within the 500-bucket limit under either reading.

    A window of n days is answered with the buckets of n + 1 days at most (the trailing bucket of
    EXCLUSIVE, or the whole extra day of INCLUSIVE while the reading is unknown), so n + 1 days must fit.
    """
    per_day = POINTS_PER_DAY.get(granularity)
    if per_day is None:
        raise ValueError(f"unsupported granularity {granularity!r}: one of {', '.join(POINTS_PER_DAY)}")
    return plan_windows(days.start, days.end, max_points=settings.MAX_BUCKETS - per_day, points_per_day=per_day)


def local_day(instant: dt.datetime, timezone: str) -> pendulum.Date:
    local = instant.astimezone(ZoneInfo(timezone))
    return pendulum.Date(local.year, local.month, local.day)


def local_midnight(day: dt.date, timezone: str) -> dt.datetime:
    """The instant a local day starts (pendulum resolves a skipped midnight to the first valid time)."""
    return pendulum.datetime(day.year, day.month, day.day, tz=timezone).in_timezone("UTC")


@dataclass(frozen=True)
class Coverage:
    """The local days an answer covers according to its `meta` (None where the meta does not say)."""

    first: pendulum.Date | None
    last: pendulum.Date | None


def coverage(meta: Meta, timezone: str) -> Coverage:
    """`meta.end` is the last covered instant (the sample: `end - 1 s`); 1 ms before it is still inside
    the last covered day even if a vendor wrote the exclusive instant itself."""
    first = local_day(meta.start, timezone) if meta.start is not None else None
    last = local_day(meta.end - _ONE_MS, timezone) if meta.end is not None else None
    return Coverage(first, last)


def reading_of(sent_end: dt.date, last_covered: dt.date) -> EndReading | None:
    """How the vendor read a date-only `end`: it covered that day (INCLUSIVE) or stopped the day before."""
    if last_covered == sent_end:
        return EndReading.INCLUSIVE
    if last_covered == sent_end - dt.timedelta(days=1):
        return EndReading.EXCLUSIVE
    return None


def check_meta(
    meta: Meta,
    *,
    property_id: str,
    timezone: str,
    granularity: str | None,
    days: DateWindow,
    sent_end: pendulum.Date,
) -> Coverage:
    """The answer's coverage, once its meta agrees with the request; `MetaMismatch` says where it does not.

    Absent fields are not checked (facts.md: parse tolerantly). A coverage ending on neither reading of
    `sent_end` is a mismatch: the answer is for days nobody asked for.
    """
    if meta.property_id is not None and meta.property_id != property_id:
        raise MetaMismatch(f"meta.property_id is {meta.property_id!r}, not the requested {property_id!r}")
    if meta.timezone is not None and meta.timezone != timezone:
        raise MetaMismatch(f"meta.timezone is {meta.timezone!r}, not the requested {timezone!r}")
    if granularity is not None and meta.granularity is not None and meta.granularity != granularity:
        raise MetaMismatch(f"meta.granularity is {meta.granularity!r}, not the requested {granularity!r}")
    covered = coverage(meta, timezone)
    if covered.first is not None and covered.first != days.start:
        raise MetaMismatch(f"meta.start is on {covered.first}, not on the requested start {days.start}")
    if covered.last is not None and reading_of(sent_end, covered.last) is None:
        raise MetaMismatch(f"meta.end is on {covered.last}, which no reading of end={sent_end.isoformat()} gives")
    return covered


@dataclass(frozen=True)
class Buckets:
    """Trend rows split by whether their bucket starts on one of the asked days."""

    kept: list[Row]  # with `date`, the local day of the bucket's start
    outside: list[Row]


def split_buckets(rows: Iterable[Row], days: DateWindow, timezone: str) -> Buckets:
    kept: list[Row] = []
    outside: list[Row] = []
    for row in rows:
        day = local_day(row["bucket"], timezone)
        if days.start <= day <= days.end:
            kept.append({"date": day, **row})
        else:
            outside.append(row)
    return Buckets(kept, outside)


def is_expected_extra(row: Row, days: DateWindow, timezone: str, reading: EndReading | None) -> bool:
    """The one bucket EXCLUSIVE always adds: it starts at `end` (local midnight after D2) and is empty."""
    if reading is EndReading.INCLUSIVE:
        return False
    starts_at_end = row["bucket"] == local_midnight(days.end.add(days=1), timezone)
    empty = all(not value for key, value in row.items() if key != "bucket")
    return starts_at_end and empty
