"""The `attributionhub_insights` resource: `POST /api/v1/insights` snapshots per segment, day and month.

For each configured segment, one snapshot per day (the window is that day) and one per completed calendar
month, keyed (segment, window_start, window_end) and merged. The `window_end` cursor decides what a run
reads: days from the last loaded day minus `lookback_days` through yesterday (UTC), and every month that
ends inside that range, so a month is read once it is complete and re-read until its end leaves the
lookback. Insights count late conversions too (insights document: users who "eventually converted"), so
recent snapshots change after the fact; `_loaded_at` says when a row was read.

`channels` is the child table `attributionhub_insights__channels`: dlt's delete-insert merge replaces a
re-read snapshot's channels with the current set, so a channel that disappears disappears. The no-data
answer stores nothing. Every snapshot ending on one day (all segments, the day and a month) is one unit:
a spent quota keeps whole days only, and the cursor stands on the last of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dlt
import pendulum
from dlt.extract.incremental import Incremental
from dlt.sources import DltResource

from sources.common import clock
from sources.common.client import ApiClient
from sources.common.cursors import Backfill, complete_days, date_cursor, stamp_loaded_at
from sources.common.fanout import ordered_fanout
from sources.common.partial import keep_until_failure
from sources.common.windows import DateWindow

from . import settings
from .parse import KEY_COLUMNS, Row, insight_row, month_end, window_body
from .segments import Segment

ENDPOINT = "insights"
CURSOR = "window_end"
DAY, MONTH = "day", "month"
DELETE_INSERT: Any = {"disposition": "merge", "strategy": "delete-insert"}
_UNBOUND_CURSOR = dlt.sources.incremental[pendulum.Date](CURSOR)

COUNT_COLUMNS = (
    "total_users",
    "total_converted_users",
    "total_sessions",
    "total_converting_sessions",
    "total_drop_off_sessions",
)
DOUBLE_COLUMNS = (
    "conversion_rate_pct",
    "avg_sessions_per_user",
    "avg_sessions_per_converted_user",
    "avg_session_duration_seconds",
    "avg_converting_session_duration",
    "avg_drop_off_session_duration",
    "median_converting_session_duration",
    "median_drop_off_session_duration",
    "avg_time_to_convert",
    "median_time_to_convert",
)
CHANNEL_COUNTS = (
    "total_sessions",
    "total_users",
    "converting_users_first_touch",
    "converting_users_assisting_touch",
    "converting_users_converting_touch",
    "converting_users_after_touch",
    "attributed_to_conversion",
)
CHANNEL_PCTS = ("session_influence_pct", "conversion_influence_pct", "conversion_rate_pct")


@dataclass(frozen=True)
class Snapshot:
    """One insights window: a day, or a whole calendar month."""

    period: str
    window: DateWindow


def plan_snapshots(days: DateWindow) -> list[Snapshot]:
    """Each day of `days`, and after a month's last day that month, in `window_end` order."""
    out: list[Snapshot] = []
    day = days.start
    while day <= days.end:
        out.append(Snapshot(DAY, DateWindow(day, day)))
        if day == month_end(day):
            out.append(Snapshot(MONTH, DateWindow(day.start_of("month"), day)))
        day = day.add(days=1)
    return out


def fetch_snapshot(client: ApiClient, snapshot: Snapshot, segment: Segment) -> Row | None:
    payload = client.post_json(
        settings.INSIGHTS_PATH, endpoint=ENDPOINT, json={**segment.body(), **window_body(snapshot.window)}
    )
    return insight_row(payload, segment.name, snapshot.window, snapshot.period)


def whole_days(requests: Sequence[tuple[Snapshot, Segment]], results: Iterable[Row | None]) -> Iterator[list[Row]]:
    """The rows of all snapshots that end on one day, a day at a time. A day is materialised before it is
    yielded, so an error part-way through a day yields nothing of it."""
    paired = zip(requests, results, strict=False)
    for _, group in itertools.groupby(paired, key=lambda item: item[0][0].window.end):
        yield [row for _, row in group if row is not None]


def column_hints() -> dict[str, Any]:
    columns: dict[str, Any] = {
        "segment": {"data_type": "text", "nullable": False},
        "window_start": {"data_type": "date", "nullable": False},
        CURSOR: {"data_type": "date", "nullable": False},
        "period": {"data_type": "text", "nullable": False},
        "_loaded_at": {"data_type": "timestamp", "timezone": True, "nullable": False},
    }
    columns.update({c: {"data_type": "bigint", "nullable": True} for c in COUNT_COLUMNS})
    columns.update({c: {"data_type": "double", "nullable": True} for c in DOUBLE_COLUMNS})
    return columns


def channel_hints() -> dict[str, Any]:
    columns: dict[str, Any] = {
        "segment": {"data_type": "text", "nullable": False},
        "window_start": {"data_type": "date", "nullable": False},
        CURSOR: {"data_type": "date", "nullable": False},
        "channel": {"data_type": "text", "nullable": False},
    }
    columns.update({c: {"data_type": "bigint", "nullable": True} for c in CHANNEL_COUNTS})
    columns.update({c: {"data_type": "double", "nullable": True} for c in CHANNEL_PCTS})
    # dlt names the resource's own column hints, not nested tables' ones
    return {name: {"name": name, **column} for name, column in columns.items()}


def insights_resource(
    client: ApiClient,
    *,
    segments: Sequence[Segment],
    start_date: pendulum.Date,
    lookback_days: int,
    backfill: Backfill | None,
) -> DltResource:
    resource = dlt.resource(
        _insights,
        name=settings.INSIGHTS_TABLE,
        primary_key=list(KEY_COLUMNS),
        write_disposition=DELETE_INSERT,
        columns=column_hints(),
        nested_hints={settings.CHANNELS_FIELD: {"columns": channel_hints()}},
    )
    cursor = date_cursor(CURSOR, start_date=start_date, backfill=backfill, lookback_days=lookback_days)
    return resource(client, tuple(segments), window_end=cursor)


def _insights(
    client: ApiClient,
    segments: tuple[Segment, ...],
    window_end: Incremental[pendulum.Date] = _UNBOUND_CURSOR,
) -> Iterator[list[Row]]:
    """Whole days of snapshots, oldest first; nothing (and no request) when no day is complete yet."""
    days = complete_days(window_end)
    if days is None:
        return
    loaded_at = clock.now()
    requests = [(snapshot, segment) for snapshot in plan_snapshots(days) for segment in segments]
    fetched = ordered_fanout(
        lambda request: fetch_snapshot(client, *request),
        requests,
        workers=settings.WORKERS,
        name="attributionhub-insights",
    )
    for rows in keep_until_failure(whole_days(requests, fetched), source=settings.SOURCE, what="insights"):
        if rows:
            stamp_loaded_at(rows, loaded_at)
            yield rows
