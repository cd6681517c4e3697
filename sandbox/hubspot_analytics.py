"""HubSpot Analytics API (reporting v2) simulator: ``GET /analytics/v2/reports/{report}/{time_period}``.

Behaviour from hubspot-analytics-api.txt and facts.md, with the sandbox's decisions where they are silent:

- Auth ``Authorization: Bearer <token>``; missing or wrong → 401 (facts.md).
- ``start``/``end`` ``YYYYMMDD``, required, both inclusive (facts.md); missing, malformed or end < start:
  400.
- Today and later days have no data (the day is not over); daily/weekly/monthly still carry their period key
  with an empty list, and ``total`` sums only days that have data. Same for days before the world start.
  With ``today_partial`` today answers with incomplete numbers that grow with simulated now (the world module).
- Weeks start on Monday; a weekly/monthly key is the period start even when ``start`` falls inside it, and the
  row covers only the requested days of that period.
- 413 RESULT_POINT_LIMIT_EXCEEDED past ``hubspot_point_limit`` time points (daily/weekly/monthly and their
  summarize variants, counted in periods); 501 RESULT_LIMIT_EXCEEDED past ``hubspot_breakdown_limit``
  breakdowns for total/summarize; 501 SCAN_TIME_EXCEEDED past ``hubspot_scan_time_days`` requested days, and
  for drilldown requests (``d1`` given: HubSpot scans the breakdown's sessions) past
  ``hubspot_scan_time_drilldown_days``.
- ``total`` pages its breakdowns by ``limit`` (default 350) / ``offset``; the response ``offset`` is the next
  offset (the document's example: ``offset: 6, total: 6`` on the last page). The ``totals`` report has no
  breakdown dimension: ``total`` gives ``totals`` and an empty ``breakdowns`` (``total: 0``).
- d1/d2 only for the breakdown_by family (facts.md); elsewhere, or d2 without d1 → 400. An unknown drill value
  answers with no rows. ``f``/``e`` include/exclude breakdown values at the requested level; ``totals`` and
  the summarize rows are sums of the breakdowns that pass the filters.
- ``sort`` names a metric (default ``visits``; unknown names sort by breakdown), ``sortDir`` ASC|DESC
  (default DESC, anything else → 400). ``filterId`` must be an id from ``/analytics/v2/views`` (else 400);
  the view's filter itself is not simulated.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sandbox import hubspot_analytics_world as world
from sandbox.core import DAY_MS, QueryError, SandboxConfig, SandboxRequest, SandboxResponse, day_start_ms, now_ms
from sandbox.hubspot_common import bad_request, check_token, error, not_found, world_start_ordinal

PREFIX = "/analytics/v2/"
TIME_PERIODS = (
    "total",
    "daily",
    "weekly",
    "monthly",
    "summarize/daily",
    "summarize/weekly",
    "summarize/monthly",
)
DEFAULT_LIMIT = 350  # facts.md
VIEWS = (
    {"id": 1001, "name": "All traffic", "portalId": 62515},
    {"id": 1002, "name": "Exclude internal IPs", "portalId": 62515},
    {"id": 1003, "name": "Blog only", "portalId": 62515},
)
_DATE = re.compile(r"^\d{8}$")


@dataclass(frozen=True)
class ReportQuery:
    report: str
    time_period: str
    start: int  # ordinals, inclusive
    end: int
    path: tuple[str, ...]
    include: frozenset[str]
    exclude: frozenset[str]
    sort: str
    descending: bool
    limit: int
    offset: int


def _parse_date(value: str | None, name: str) -> int:
    if value is None or value == "":
        raise QueryError(f"Missing required query parameter '{name}' (format YYYYMMDD).")
    if not _DATE.match(value):
        raise QueryError(f"Invalid value for '{name}': {value!r} is not a date in YYYYMMDD format.")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:])).toordinal()
    except ValueError:
        raise QueryError(f"Invalid value for '{name}': {value!r} is not a valid date.") from None


def _parse_int(value: str | None, name: str, default: int, minimum: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"Invalid value for '{name}': {value!r} is not an integer.") from None
    if number < minimum:
        raise QueryError(f"Invalid value for '{name}': must be at least {minimum}.")
    return number


def parse_query(request: SandboxRequest, report: str, time_period: str) -> ReportQuery:
    start = _parse_date(request.param("start"), "start")
    end = _parse_date(request.param("end"), "end")
    if end < start:
        raise QueryError("The 'end' date must not be before the 'start' date.")
    d1, d2 = request.param("d1"), request.param("d2")
    if (d1 or d2) and not world.supports_drilldown(report):
        raise QueryError(f"Drilldowns (d1/d2) are not supported for '{report}'.")
    if d2 and not d1:
        raise QueryError("'d2' requires 'd1'.")
    sort_dir = (request.param("sortDir") or "DESC").upper()
    if sort_dir not in ("ASC", "DESC"):
        raise QueryError("Invalid value for 'sortDir': must be ASC or DESC.")
    filter_id = request.param("filterId")
    if filter_id and filter_id not in {str(v["id"]) for v in VIEWS}:
        raise QueryError(f"Unknown filterId {filter_id!r}: use an id from /analytics/v2/views.")
    return ReportQuery(
        report=report,
        time_period=time_period,
        start=start,
        end=end,
        path=tuple(p for p in (d1, d2) if p),
        include=frozenset(request.params("f")),
        exclude=frozenset(request.params("e")),
        sort=request.param("sort") or "visits",
        descending=sort_dir == "DESC",
        limit=_parse_int(request.param("limit"), "limit", DEFAULT_LIMIT, 1),
        offset=_parse_int(request.param("offset"), "offset", 0, 0),
    )


@lru_cache(maxsize=4096)
def _week_start(day: int) -> int:
    return day - (day + 6) % 7  # ordinal 1 (0001-01-01) is a Monday


@lru_cache(maxsize=4096)
def _month_start(day: int) -> int:
    return dt.date.fromordinal(day).replace(day=1).toordinal()


@lru_cache(maxsize=8192)
def _iso(day: int) -> str:
    return dt.date.fromordinal(day).isoformat()


def _period_of(granularity: str) -> Callable[[int], int]:
    return {"daily": lambda d: d, "weekly": _week_start, "monthly": _month_start}[granularity]


def _periods(query: ReportQuery, granularity: str) -> list[int]:
    """Period start ordinals touched by [start, end], in order."""
    if granularity == "daily":
        return list(range(query.start, query.end + 1))
    period = _period_of(granularity)
    keys: list[int] = []
    day = query.start
    while day <= query.end:
        keys.append(period(day))
        day = (
            keys[-1] + 7
            if granularity == "weekly"
            else (dt.date.fromordinal(keys[-1]).replace(day=28) + dt.timedelta(days=4)).replace(day=1).toordinal()
        )
    return keys


class HubSpotAnalyticsSim:
    """Turns analytics requests into responses over the deterministic world of ``hubspot_analytics_world``."""

    name = "hubspot_analytics"

    def matches(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def handle(self, request: SandboxRequest, config: SandboxConfig) -> SandboxResponse:
        auth = request.header("authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        denied = check_token(request, token, config.hubspot_token)
        if denied:
            return denied
        if request.method != "GET":
            return error(request, 405, f"Method {request.method} not allowed.", category="VALIDATION_ERROR")
        parts = request.path[len(PREFIX) :].strip("/").split("/")
        if parts == ["views"]:
            return SandboxResponse.json(200, list(VIEWS))
        if len(parts) < 3 or parts[0] != "reports" or parts[1] not in world.REPORTS:
            return not_found(request)
        report, time_period = parts[1], "/".join(parts[2:])
        if time_period == "exists":
            return SandboxResponse.json(200, {"exists": True})
        if time_period not in TIME_PERIODS:
            return not_found(request)
        try:
            query = parse_query(request, report, time_period)
        except QueryError as exc:
            return bad_request(request, str(exc))
        return _answer(request, query, config)


def _answer(request: SandboxRequest, query: ReportQuery, config: SandboxConfig) -> SandboxResponse:
    granularity = query.time_period.removeprefix("summarize/")
    periods = _periods(query, granularity) if granularity != "total" else []
    if len(periods) > config.hubspot_point_limit:
        return error(
            request,
            413,
            f"This request would return {len(periods)} time points; the limit is "
            f"{config.hubspot_point_limit}. Narrow the date range or use a wider time period.",
            error_type="RESULT_POINT_LIMIT_EXCEEDED",
        )
    span = query.end - query.start + 1
    drill_limit = config.hubspot_scan_time_drilldown_days
    scan_limit = config.hubspot_scan_time_days
    if (scan_limit is not None and span > scan_limit) or (
        drill_limit is not None and query.path and span > drill_limit
    ):
        return error(
            request,
            501,
            "The processing time limit was hit. Narrow the date range or use filters.",
            error_type="SCAN_TIME_EXCEEDED",
        )
    by_day = _collect_days(query, config)
    if query.time_period == "total" or query.time_period.startswith("summarize/"):
        distinct = {name for rows in by_day.values() for name in rows}
        if len(distinct) > config.hubspot_breakdown_limit:
            return error(
                request,
                501,
                f"Too many breakdowns ({len(distinct)}); the limit is {config.hubspot_breakdown_limit}. "
                "Use filters or narrow the date range.",
                error_type="RESULT_LIMIT_EXCEEDED",
            )
    if query.time_period == "total":
        return SandboxResponse.json(200, _total_payload(query, by_day))
    period = _period_of(granularity)
    grouped: dict[int, dict[str, world.Counts]] = {p: {} for p in periods}
    for day, rows in by_day.items():
        bucket = grouped[period(day)]
        for name, counts in rows.items():
            bucket[name] = world.add(bucket[name], counts) if name in bucket else counts
    summarize = query.time_period.startswith("summarize/") or query.report == "totals"
    payload: dict[str, list[dict[str, Any]]] = {}
    for key, rows in grouped.items():
        if summarize:
            total = _sum(rows.values())
            payload[_iso(key)] = [world.metrics(total)] if any(total) else []
        else:
            payload[_iso(key)] = _sorted_rows(query, rows)
    return SandboxResponse.json(200, payload)


def _collect_days(query: ReportQuery, config: SandboxConfig) -> dict[int, dict[str, world.Counts]]:
    """Counts per visible day per breakdown (the ``totals`` report uses one unnamed row, key "")."""
    today = config.today.toordinal()
    first = max(query.start, world_start_ordinal(config))
    last = min(query.end, today if config.today_partial else today - 1)  # today is not over: no data yet
    seed, spd, large = config.seed, config.sessions_per_day, config.hubspot_large_report_values
    elapsed = (now_ms(config) - day_start_ms(config.today)) / DAY_MS
    out: dict[int, dict[str, world.Counts]] = {}
    for day in range(first, last + 1):
        permille = world.restatement_permille(
            seed, day, today - day, config.restate_days, can_drop=config.restate_can_drop, elapsed=elapsed
        )
        if query.report == "totals":
            rows = {"": world.day_counts(seed, spd, day, permille)}
        else:
            rows = world.node_rows(seed, spd, query.report, day, query.path, permille, large)
            if query.include:
                rows = {k: v for k, v in rows.items() if k in query.include}
            if query.exclude:
                rows = {k: v for k, v in rows.items() if k not in query.exclude}
        out[day] = rows
    return out


def _sum(rows: Any) -> world.Counts:
    total = world.ZERO
    for counts in rows:
        total = world.add(total, counts)
    return total


def _sorted_rows(query: ReportQuery, rows: dict[str, world.Counts]) -> list[dict[str, Any]]:
    rendered = [{"breakdown": name, **world.metrics(counts)} for name, counts in rows.items()]
    sign = -1 if query.descending else 1
    rendered.sort(key=lambda r: (sign * r.get(query.sort, 0), r["breakdown"]))
    return rendered


def _total_payload(query: ReportQuery, by_day: dict[int, dict[str, world.Counts]]) -> dict[str, Any]:
    per_breakdown: dict[str, world.Counts] = {}
    for rows in by_day.values():
        for name, counts in rows.items():
            per_breakdown[name] = world.add(per_breakdown[name], counts) if name in per_breakdown else counts
    totals = world.metrics(_sum(per_breakdown.values()))
    if query.report == "totals":
        return {"offset": 0, "total": 0, "totals": totals, "breakdowns": []}
    rows = _sorted_rows(query, per_breakdown)
    page = rows[query.offset : query.offset + query.limit]
    # The response offset is where the next page starts (document example: offset 6 of total 6 at the end).
    return {"offset": query.offset + len(page), "total": len(rows), "totals": totals, "breakdowns": page}
