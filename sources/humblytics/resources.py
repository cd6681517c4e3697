"""The Humblytics resources: six merge-by-day tables on the shared date cursor.

Which days a run reads (the `date` cursor of each top-level resource, sources/common/cursors.py): the
nightly from the last loaded day minus `lookback_days` through yesterday in the property's `timezone`;
a backfill its inclusive range without reading or moving the cursor. Every table is merged with
`delete-insert` on its natural key and `merge_key=date`, so a re-read day replaces the stored day.

Requests per run, for n days (README, "Request cost"): one traffic/trends request per 499 days; one
traffic/breakdown, clicks/breakdown and forms/breakdown request per day; one clicks/details (forms/details)
request per page that had clicks (submissions) that day. There is no paging: `limit` is a top N.

Units: trends are yielded per request window, breakdowns per day, details per (day, all its pages), each
through `keep_until_failure`, so a terminal answer mid-run keeps the complete units before it and the
cursor stands at the last of them. A details transformer that fails stops its breakdown right after that
day (`halt`): the breakdown's cursor is then that day, and the next nightly reads it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import dlt
import pendulum
from dlt.common.data_types import TDataType
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.incremental import Incremental
from dlt.extract.items_transform import BaseItemTransform, ItemTransform
from dlt.sources import DltResource

from sources.common import clock
from sources.common.cursors import LOADED_AT, Backfill, complete_days, date_cursor, stamp_loaded_at
from sources.common.fanout import ordered_fanout
from sources.common.partial import keep_until_failure
from sources.common.windows import fetch_with_split

from . import settings
from .api import ENDPOINTS, HumblyticsApi, Refused
from .details import DetailPrefetch
from .parse import CLICKS, FORMS, Kind, Row, pages_of
from .ranges import trend_windows

logger = logging.getLogger(__name__)

Rows = list[Row]
DELETE_INSERT: Any = {"disposition": "merge", "strategy": "delete-insert"}
# A day with no rows still moves the cursor (a property without forms must not re-read every day since
# start_date each night): the resource yields this marker row, the incremental counts it, and
# `DropEmptyDays` removes it before anything is written or handed to a transformer.
EMPTY_DAY = "_humblytics_empty_day"

# dlt finds a resource's cursor through an `Incremental` default; every resource passes its own instance.
_UNBOUND_CURSOR = dlt.sources.incremental[pendulum.Date]("date")


# Column types: (dlt data type, nullable). Fresh column dicts are built per resource (`_declare`): dlt
# writes each column's name into its dict, so one dict shared by two columns would merge them.
ColumnType = tuple[TDataType, bool]
_DATE: ColumnType = ("date", False)
_TEXT_KEY: ColumnType = ("text", False)
_TEXT: ColumnType = ("text", True)
_COUNT: ColumnType = ("bigint", True)
_SHARE: ColumnType = ("double", True)
_CUT: ColumnType = ("bool", False)
_INSTANT: ColumnType = ("timestamp", False)  # timezone-aware


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: dict[str, ColumnType]


def _kind_columns(kind: Kind, *, details: bool) -> dict[str, ColumnType]:
    columns = {"date": _DATE, "page": _TEXT_KEY, kind.item: _TEXT_KEY, kind.count: _COUNT, kind.unique: _COUNT}
    if details:
        columns["share"] = _SHARE
    else:
        columns |= {f"page_{kind.count}": _COUNT, f"page_{kind.unique}": _COUNT}
    return columns | {"may_be_truncated": _CUT, LOADED_AT: _INSTANT}


TRENDS = Table(
    settings.TRENDS_TABLE,
    ("date",),
    {"date": _DATE, "bucket": _INSTANT, "pageviews": _COUNT, "unique_visitors": _COUNT, LOADED_AT: _INSTANT},
)
TRAFFIC_BREAKDOWN = Table(
    settings.TRAFFIC_BREAKDOWN_TABLE,
    ("date", "dimension", "value"),
    {
        "date": _DATE,
        "dimension": _TEXT_KEY,
        "value": _TEXT_KEY,
        "utm_source": _TEXT,
        "utm_medium": _TEXT,
        "utm_campaign": _TEXT,
        "sessions": _COUNT,
        "share": _SHARE,
        "may_be_truncated": _CUT,
        LOADED_AT: _INSTANT,
    },
)
BREAKDOWNS = {
    CLICKS: Table(settings.CLICKS_BREAKDOWN_TABLE, ("date", "page", "target"), _kind_columns(CLICKS, details=False)),
    FORMS: Table(settings.FORMS_BREAKDOWN_TABLE, ("date", "page", "form"), _kind_columns(FORMS, details=False)),
}
DETAILS = {
    CLICKS: Table(settings.CLICKS_DETAILS_TABLE, ("date", "page", "target"), _kind_columns(CLICKS, details=True)),
    FORMS: Table(settings.FORMS_DETAILS_TABLE, ("date", "page", "form"), _kind_columns(FORMS, details=True)),
}


def column_hints(table: Table) -> dict[str, TColumnSchema]:
    hints: dict[str, TColumnSchema] = {}
    for name, (data_type, nullable) in table.columns.items():
        column: TColumnSchema = {"data_type": data_type, "nullable": nullable}
        if data_type == "timestamp":
            column["timezone"] = True
        hints[name] = column
    return hints


def _declare(table: Table) -> dict[str, Any]:
    return {
        "name": table.name,
        "table_name": table.name,
        "primary_key": list(table.key),
        "merge_key": "date",
        "write_disposition": DELETE_INSERT,
        "columns": column_hints(table),
    }


class DropEmptyDays(ItemTransform[Any]):
    """Pipe step after the incremental (affinity 1) and before a transformer's fork (2): drops `EMPTY_DAY`."""

    placement_affinity: ClassVar[float] = 1.5

    def __init__(self) -> None:
        BaseItemTransform.__init__(self)

    def __call__(self, item: Any, meta: Any = None) -> Any:
        rows = [row for row in item if not row.get(EMPTY_DAY)] if isinstance(item, list) else item
        return rows or None


def humblytics_resources(
    api: HumblyticsApi, *, start_date: pendulum.Date, lookback_days: int, backfill: Backfill | None
) -> list[DltResource]:
    """The six resources; the details are transformers of their breakdowns."""

    def cursor() -> Incremental[Any]:
        return date_cursor("date", start_date=start_date, backfill=backfill, lookback_days=lookback_days)

    trends = dlt.resource(_trend_rows, parallelized=True, **_declare(TRENDS))(api, day=cursor())
    traffic = dlt.resource(_traffic_rows, parallelized=True, **_declare(TRAFFIC_BREAKDOWN))(api, day=cursor())
    traffic.add_step(DropEmptyDays())
    resources = [trends, traffic]
    for kind in (CLICKS, FORMS):
        halt = threading.Event()
        prefetch = DetailPrefetch(api, kind)
        # Not parallelized: the transformer must see a day before its breakdown yields the next one (halt).
        breakdown = dlt.resource(_page_rows, **_declare(BREAKDOWNS[kind]))(api, prefetch, halt, day=cursor())
        breakdown.add_step(DropEmptyDays())
        details = dlt.transformer(_details_rows, **_declare(DETAILS[kind]))(prefetch, halt)
        resources += [breakdown, breakdown | details]
    return resources


def _days(api: HumblyticsApi, day: Incremental[Any]) -> list[pendulum.Date] | None:
    days = complete_days(day, api.timezone)
    return None if days is None else [days.start.add(days=i) for i in range(days.days)]


def _trend_rows(api: HumblyticsApi, day: Incremental[Any] = _UNBOUND_CURSOR) -> Iterator[Rows]:
    """Daily buckets, one request per planned window (bisected on "range too large")."""
    days = complete_days(day, api.timezone)
    if days is None:
        return
    loaded_at = clock.now()
    windows = (
        fetch_with_split(window, api.trends, vendor=settings.VENDOR, what="traffic/trends")
        for window in trend_windows(days)
    )
    outside: Rows = []
    try:
        for pieces in keep_until_failure(windows, source=settings.SOURCE, what=settings.TRAFFIC_TRENDS):
            for _, answer in pieces:
                outside += answer.unexpected
                if answer.rows:
                    stamp_loaded_at(answer.rows, loaded_at)
                    yield answer.rows
    except Refused:
        return  # another resource met the refusal and recorded it
    if outside:
        _warn_outside(api, outside)


def _warn_outside(api: HumblyticsApi, outside: Rows) -> None:
    """One warning per run for buckets the vendor sent outside the asked days (not loaded)."""
    active = sum(1 for row in outside if row.get("pageviews") or row.get("unique_visitors"))
    first, last = min(row["bucket"] for row in outside), max(row["bucket"] for row in outside)
    logger.warning(
        "humblytics traffic/trends returned %d bucket(s) outside the requested days (%s .. %s, %d with activity; "
        "the API reads `end` as %s): they were not loaded.",
        len(outside),
        first.isoformat(),
        last.isoformat(),
        active,
        api.reading or "unknown",
    )


def _traffic_rows(api: HumblyticsApi, day: Incremental[Any] = _UNBOUND_CURSOR) -> Iterator[Rows]:
    """traffic/breakdown, one request per day."""
    yield from _per_day(api, day, api.traffic_breakdown, settings.TRAFFIC_BREAKDOWN, None)


def _page_rows(
    api: HumblyticsApi, prefetch: DetailPrefetch, halt: threading.Event, day: Incremental[Any] = _UNBOUND_CURSOR
) -> Iterator[Rows]:
    """clicks|forms/breakdown, one request per day; the day's details are fetched with it (details.py)."""
    yield from _per_day(api, day, prefetch.breakdown_with_details, ENDPOINTS[prefetch.kind][0], halt)


def _per_day(
    api: HumblyticsApi,
    day: Incremental[Any],
    fetch: Callable[[pendulum.Date], Rows],
    endpoint: str,
    halt: threading.Event | None,
) -> Iterator[Rows]:
    """A day's rows per yield, in day order (`DAY_WORKERS` days in flight); an empty day as `EMPTY_DAY`."""
    dates = _days(api, day)
    if dates is None:
        return
    loaded_at = clock.now()
    fetched = ordered_fanout(
        lambda d: (d, fetch(d)), dates, workers=settings.DAY_WORKERS, name=f"humblytics-{endpoint.replace('/', '-')}"
    )
    units = keep_until_failure(fetched, source=settings.SOURCE, what=endpoint)
    cut_days: list[pendulum.Date] = []
    try:
        for date, rows in units:
            if halt is not None and halt.is_set():
                break  # the details of the day before failed: the cursor must not pass it
            if not rows:
                yield [{"date": date, EMPTY_DAY: True}]
                continue
            if any(row["may_be_truncated"] for row in rows):
                cut_days.append(date)
            stamp_loaded_at(rows, loaded_at)
            yield rows
    except Refused:
        return  # another resource met the refusal and recorded it
    finally:
        if isinstance(units, Generator):
            units.close()  # stop the days still in flight
    if cut_days:
        _warn_cut(api, endpoint, cut_days)


def _warn_cut(api: HumblyticsApi, endpoint: str, cut_days: list[pendulum.Date]) -> None:
    logger.warning(
        "humblytics %s: on %d day(s) (%s .. %s) a list came back with exactly limit=%d rows; rows past the top "
        "%d cannot be read (the API has no paging) and those rows are marked may_be_truncated.",
        endpoint,
        len(cut_days),
        min(cut_days),
        max(cut_days),
        api.limit,
        api.limit,
    )


def _details_rows(rows: Rows, prefetch: DetailPrefetch, halt: threading.Event) -> Rows | None:
    """clicks|forms/details of every page in one day's breakdown rows, as one unit.

    A plain function, not a generator: dlt then runs it as soon as the breakdown yields the day, before
    the breakdown's next day (the `halt` contract above). The requests were made with the breakdown
    (details.py); a failure met there is raised here, where it stops the same things.
    """
    if halt.is_set() or not rows:
        return None
    date, loaded_at = rows[0]["date"], rows[0][LOADED_AT]
    pages = pages_of(rows)
    endpoint = ENDPOINTS[prefetch.kind][1]

    def one_day() -> Iterator[Rows]:
        yield prefetch.take(date, pages)

    try:
        units = list(keep_until_failure(one_day(), source=settings.SOURCE, what=f"{endpoint} for {date}"))
    except Refused:
        units = []
    if not units:
        halt.set()
        return None
    stamp_loaded_at(units[0], loaded_at)
    return units[0] or None
