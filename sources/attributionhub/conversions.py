"""The `attributionhub_conversions` resource: `POST /api/v1/conversions`, whole-day windows, merged by key.

How a run decides what to read (the `date` cursor, a `dlt.sources.incremental`, is the UTC day of the
record's `timestamp`, the day whose window returned it):
- nightly: from the last loaded day minus `lookback_days` through yesterday (UTC). Conversions appear days
  after they happen (facts.md; the sandbox: up to 2 days), so those days are read again every night and
  a late conversion is loaded the night it appears.
- backfill `(start, end)`: `initial_value`/`end_value`, so the nightly cursor is neither read nor moved.
Rows are merged with `delete-insert` on `conversion_key` and `merge_key=date`: a re-read day replaces the
stored day, so nothing is loaded twice (parse.key_conversions says why the key is stable).

Each window is one paged query (both paging modes: `RecordsProcessedPaginator`): the days of the lookback
one at a time, older (settled) days `CONVERSION_WINDOW_DAYS` at a time (`plan_conversion_windows` says
why). A window is yielded only once all its pages arrived, so a spent quota leaves the cursor on the last
whole window. For an unfiltered window the records received must add up
to the vendor's `total_records`; a window that does not is loaded, warned about with both numbers, and
counted (`incomplete_windows()`): a re-read within the lookback heals it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dlt
import pendulum
from dlt.extract.incremental import Incremental
from dlt.sources import DltResource

from sources.common import clock
from sources.common.client import ApiClient
from sources.common.cursors import Backfill, complete_days, date_cursor, stamp_loaded_at
from sources.common.dates import yesterday
from sources.common.fanout import ordered_fanout
from sources.common.paginators import RecordsProcessedPaginator, paginate
from sources.common.partial import keep_until_failure
from sources.common.stats import RUN_STATS
from sources.common.windows import DateWindow, plan_windows

from . import settings
from .parse import (
    CONVERSION_KEY,
    DAY,
    Row,
    conversion_records,
    conversion_row,
    key_conversions,
    total_records,
    window_body,
)
from .segments import is_session_filtered

logger = logging.getLogger(__name__)

ENDPOINT = "conversions"
TEXT_COLUMNS = ("email", "conversion_page", "previous_page", "conversion_meta__type", "conversion_meta__id")
DELETE_INSERT: Any = {"disposition": "merge", "strategy": "delete-insert"}
_UNBOUND_CURSOR = dlt.sources.incremental[pendulum.Date](DAY)


class _Incomplete:
    """Unfiltered windows whose records did not add up to `total_records` in this process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.windows: list[str] = []

    def add(self, window: DateWindow) -> None:
        with self._lock:
            self.windows.append(str(window))

    def take(self) -> list[str]:
        with self._lock:
            taken, self.windows = self.windows, []
            return taken


INCOMPLETE = _Incomplete()


def incomplete_windows() -> list[str]:
    """The incomplete windows met since the last call (for a run summary), forgetting them."""
    return INCOMPLETE.take()


def completeness_problem(window: DateWindow, received: int, totals: Sequence[int | None]) -> str | None:
    """The warning for an unfiltered window whose records do not match the vendor's `total_records`, else None.

    Every page's total must agree too: a count that moved while paging means records arrived mid-read
    (late conversions), which shifts the offsets of the pages after it.
    """
    known = [t for t in totals if t is not None]
    if not known or (received == known[-1] and all(t == known[-1] for t in known)):
        return None
    said = str(known[-1]) if len(set(known)) == 1 else f"{known[0]}, then {known[-1]} (it moved while paging)"
    return (
        f"{settings.VENDOR} conversions {window}: received {received} records but total_records says {said}; "
        "loaded what arrived (the next nightly re-reads days within the lookback)."
    )


def column_hints() -> dict[str, Any]:
    """Types that must not depend on the first value seen (an all-NULL email column would be untyped)."""
    columns: dict[str, Any] = {
        CONVERSION_KEY: {"data_type": "text", "nullable": False},
        DAY: {"data_type": "date", "nullable": False},
        "timestamp": {"data_type": "timestamp", "timezone": True, "nullable": False},
        "ordinal": {"data_type": "bigint", "nullable": False},
        "_loaded_at": {"data_type": "timestamp", "timezone": True, "nullable": False},
    }
    # one dict per column: dlt writes each column's name into its dict
    columns.update({c: {"data_type": "text", "nullable": True} for c in TEXT_COLUMNS})
    return columns


def fetch_window(client: ApiClient, window: DateWindow, filters: Mapping[str, str]) -> list[Row]:
    """Every conversion of `window` (all pages), keyed. Raises the client's typed errors."""
    session_filtered = is_session_filtered(filters)
    totals: list[int | None] = []

    def records(payload: Any) -> list[Any]:
        totals.append(total_records(payload))
        return conversion_records(payload)

    pages = paginate(
        client,
        "POST",
        settings.CONVERSIONS_PATH,
        endpoint=ENDPOINT,
        json={**filters, **window_body(window)},
        paginator=RecordsProcessedPaginator(session_filtered),
        records=records,
    )
    rows = [conversion_row(record) for page in pages for record in page]
    # A session-filtered total counts sessions, not conversions (conversions document, total_records).
    if not session_filtered:
        problem = completeness_problem(window, len(rows), totals)
        if problem is not None:
            logger.warning(problem)
            INCOMPLETE.add(window)
            RUN_STATS.add_incomplete(settings.VENDOR)
    return key_conversions(rows)


def conversions_resource(
    client: ApiClient,
    *,
    filters: Mapping[str, str],
    start_date: pendulum.Date,
    lookback_days: int,
    backfill: Backfill | None,
) -> DltResource:
    resource = dlt.resource(
        _conversions,
        name=settings.CONVERSIONS_TABLE,
        primary_key=CONVERSION_KEY,
        merge_key=DAY,
        write_disposition=DELETE_INSERT,
        columns=column_hints(),
    )
    cursor = date_cursor(DAY, start_date=start_date, backfill=backfill, lookback_days=lookback_days)
    return resource(client, dict(filters), int(lookback_days), day=cursor)


def plan_conversion_windows(days: DateWindow, *, settled_before: pendulum.Date) -> list[DateWindow]:
    """Days before `settled_before` in windows of `CONVERSION_WINDOW_DAYS`; later days one request each.

    Recent days still receive late conversions. Pages come newest first, so a conversion arriving while a
    multi-day window pages shifts the offsets of every older record in it: one record is read twice (a
    phantom identical copy) and another not at all. A day read alone can only be shifted by its own late
    conversions, and its last read within the lookback comes when it has none left to receive. Settled days
    receive nothing, so they share windows, which costs a year's backfill 113 requests instead of 365.
    """
    if days.end < settled_before:
        return plan_windows(days.start, days.end, max_points=settings.CONVERSION_WINDOW_DAYS)
    recent = DateWindow(max(days.start, settled_before), days.end)
    single = plan_windows(recent.start, recent.end, max_points=1)
    if days.start >= settled_before:
        return single
    settled = plan_windows(days.start, settled_before.subtract(days=1), max_points=settings.CONVERSION_WINDOW_DAYS)
    return settled + single


def _conversions(
    client: ApiClient,
    filters: dict[str, str],
    lookback_days: int,
    day: Incremental[pendulum.Date] = _UNBOUND_CURSOR,
) -> Iterator[list[Row]]:
    """Whole windows of rows, oldest first; nothing (and no request) when no day is complete yet."""
    days = complete_days(day)
    if days is None:
        return
    loaded_at = clock.now()
    windows = plan_conversion_windows(days, settled_before=yesterday().subtract(days=lookback_days))
    fetched = ordered_fanout(
        lambda window: fetch_window(client, window, filters),
        windows,
        workers=settings.WORKERS,
        name="attributionhub-conversions",
    )
    for rows in keep_until_failure(fetched, source=settings.SOURCE, what="conversions"):
        if rows:
            stamp_loaded_at(rows, loaded_at)
            yield rows
