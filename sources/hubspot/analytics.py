"""HubSpot Analytics (reporting v2) resources: one merge-by-day table per report.

How a run decides what to read (the `date` cursor is a `dlt.sources.incremental` on each table):
- nightly: from the last loaded day minus `lookback_days` (dlt's `lag`, in days for a date cursor, and
  never before `start_date`) through yesterday in the portal's `timezone` (default UTC). HubSpot restates
  recent days (facts.md), so those days are re-read every night and merged; once a day leaves the lookback
  it holds the vendor's settled numbers.
- backfill `(start, end)`: `initial_value`/`end_value`, so dlt uses a throw-away state: the nightly cursor
  is neither read nor moved.
Rows are merged with `delete-insert` on the key (date, d1, d2, breakdown) and `merge_key=date`: a re-read
day replaces the whole stored day, so a breakdown that vanished in a restatement does not linger.

Requests: one `daily` request per report per date window (windows from `plan_windows`, bisected on
413/501 by `fetch_with_split`); drilldown values are discovered with one paged `total` request per window
and drill level, then each value gets its own `daily` request per window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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
from sources.common.paginators import OffsetPaginator, paginate
from sources.common.partial import keep_until_failure
from sources.common.windows import DateWindow, fetch_with_split, plan_windows

from . import settings
from .analytics_parse import (
    KEY_COLUMNS,
    Drill,
    breakdown_values,
    column_hints,
    parse_daily,
    table_name,
    total_breakdowns,
    validate_reports,
    yyyymmdd,
)

Rows = list[dict[str, Any]]

# dlt finds a resource's cursor through an `Incremental` default; every resource passes its own instance.
_UNBOUND_CURSOR = dlt.sources.incremental[pendulum.Date]("date")


@dataclass(frozen=True)
class ReportSpec:
    """One report and how deep it is drilled (settings.DRILLDOWN_D1 / DRILLDOWN_D2)."""

    report: str
    drill_d1: bool = False
    drill_d2: tuple[str, ...] = ()

    @classmethod
    def for_report(cls, report: str) -> ReportSpec:
        return cls(
            report,
            drill_d1=report in settings.DRILLDOWN_D1,
            drill_d2=tuple(settings.DRILLDOWN_D2.get(report, ())),
        )


def report_resources(
    client: ApiClient,
    *,
    reports: Sequence[str],
    start_date: pendulum.Date,
    lookback_days: int,
    backfill: Backfill | None,
    timezone: str = settings.DEFAULT_TIMEZONE,
) -> list[DltResource]:
    """One resource per configured report; configuration is checked here, before any request."""
    names = validate_reports(reports)
    return [
        _report_resource(client, ReportSpec.for_report(name), start_date, int(lookback_days), backfill, timezone)
        for name in names
    ]


def _report_resource(
    client: ApiClient,
    spec: ReportSpec,
    start_date: pendulum.Date,
    lookback_days: int,
    backfill: Backfill | None,
    timezone: str,
) -> DltResource:
    name = table_name(spec.report)
    resource = dlt.resource(
        _report_pages,
        name=name,
        table_name=name,
        primary_key=list(KEY_COLUMNS),
        merge_key="date",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=column_hints(),
        # Extraction is latency-bound (performance-notes.md): reports run side by side, the shared
        # HubSpot RateLimiter keeps the portal within its documented burst limit.
        parallelized=True,
    )
    # `primary_key=()`: the merge dedups, and dlt's boundary dedup would drop restatements.
    cursor = date_cursor("date", start_date=start_date, backfill=backfill, lookback_days=lookback_days)
    return resource(client, spec, timezone, day=cursor)


def _report_pages(
    client: ApiClient,
    spec: ReportSpec,
    timezone: str,
    day: Incremental[pendulum.Date] = _UNBOUND_CURSOR,
) -> Iterator[Rows]:
    """Pages of daily rows for the complete days of the cursor's range; nothing (and no request) when none.

    A window's rows are yielded only once the whole window (top level and every drilldown) arrived: the
    merge replaces whole days, so a window cut short by a terminal answer (a spent DAILY quota) must load
    nothing rather than days without their drilldowns; the cursor then stops at the last whole window.
    """
    days = complete_days(day, timezone)
    if days is None:
        return
    loaded_at = clock.now()
    windows = plan_windows(days.start, days.end, max_points=settings.MAX_TIME_POINTS)
    whole = (list(_window_pages(client, spec, window)) for window in windows)
    for pages in keep_until_failure(whole, source=settings.ANALYTICS_SOURCE, what=f"the '{spec.report}' report"):
        for rows in pages:
            if rows:
                stamp_loaded_at(rows, loaded_at)
                yield rows


def _window_pages(client: ApiClient, spec: ReportSpec, window: DateWindow) -> Iterator[Rows]:
    """The report's rows for one window: top level, then every discovered d1 (and d2) drilldown.

    One request per drilldown value is latency-bound (performance-notes.md): `DRILL_WORKERS` go out at
    once, and the shared RateLimiter keeps the burst within HubSpot's 190 requests per 10 s (facts.md).
    """
    yield from _daily(client, spec, window, Drill())
    if not spec.drill_d1:
        return
    drills = [Drill(d1) for d1 in _discover(client, spec, window, Drill())]
    for d1 in [d.d1 for d in drills if d.d1 in spec.drill_d2]:
        drills += [Drill(d1, d2) for d2 in _discover(client, spec, window, Drill(d1))]
    drills.sort(key=lambda d: (d.d1, d.d2))
    fetched = ordered_fanout(
        lambda drill: _daily(client, spec, window, drill), drills, workers=settings.DRILL_WORKERS, name="hubspot-drill"
    )
    for pages in fetched:
        yield from pages


def _describe(spec: ReportSpec, drill: Drill) -> str:
    """How errors name a request: the report and its drilldown."""
    drilled = ", ".join(f"{k}={v}" for k, v in drill.params().items())
    return f"the '{spec.report}' analytics report" + (f" ({drilled})" if drilled else "")


def _path(spec: ReportSpec, time_period: str) -> tuple[str, str]:
    """The request path and its short name for stats and errors."""
    path = settings.ANALYTICS_PATH.format(report=spec.report, time_period=time_period)
    return path, f"analytics/{spec.report}/{time_period}"


def _params(window: DateWindow, drill: Drill) -> dict[str, str]:
    return {"start": yyyymmdd(window.start), "end": yyyymmdd(window.end), **drill.params()}


def _split(spec: ReportSpec, drill: Drill, window: DateWindow, fetch: Callable[[DateWindow], Any]) -> list[Any]:
    """Results of `fetch` over `window`, bisected on 413/501 (hubspot-analytics-api.txt: narrow the range)."""
    pieces = fetch_with_split(window, fetch, vendor=settings.VENDOR, what=_describe(spec, drill))
    return [result for _, result in pieces]


def _daily(client: ApiClient, spec: ReportSpec, window: DateWindow, drill: Drill) -> list[Rows]:
    """Pages of one `daily` request per window (more only when the vendor's limits force a split)."""
    path, endpoint = _path(spec, "daily")

    def fetch(w: DateWindow) -> Rows:
        return parse_daily(client.get_json(path, endpoint=endpoint, params=_params(w, drill)), drill)

    return _split(spec, drill, window, fetch)


def _discover(client: ApiClient, spec: ReportSpec, window: DateWindow, drill: Drill) -> list[str]:
    """Drilldown values seen in `window`: the breakdowns of the paged `total` summary.

    hubspot-analytics-api.txt: "start with the total summary ... and looking at the breakdowns".
    """
    path, endpoint = _path(spec, "total")

    def fetch(w: DateWindow) -> list[str]:
        pages = paginate(
            client,
            "GET",
            path,
            endpoint=endpoint,
            params=_params(w, drill),
            paginator=OffsetPaginator(settings.TOTAL_PAGE_LIMIT, total_key="total", next_offset_key="offset"),
            records=total_breakdowns,
        )
        return breakdown_values(b for page in pages for b in page)

    values = [v for part in _split(spec, drill, window, fetch) for v in part]
    return list(dict.fromkeys(values))
