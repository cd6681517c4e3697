"""Humblytics External Analytics API simulator (humblytics-external-analytics-api.txt, facts.md).

Paths: ``GET /api/external/v1/properties/{property_id}/`` + ``traffic/trends``, ``traffic/breakdown``,
``clicks/breakdown``, ``clicks/details``, ``forms/breakdown``, ``forms/details``. Response shapes follow
facts.md "Assumed Humblytics response shapes".

THE RANGE RULE (decided here, once; pinned by test_published_sample_meta):
    ``start``/``end`` are ISO-8601 dates or timestamps; a date means local midnight in ``timezone`` and a
    timestamp without offset is local time too. Data covers ``[start, end)``: **end is exclusive** —
    ``meta.end`` is ``end - 1 s``. The bucket series, however, runs from the bucket containing ``start``
    through the bucket containing ``end`` *inclusive* (like SQL ``generate_series(start, end, step)``), so a
    date-only ``end`` adds one trailing bucket that starts at ``end`` and is always zero. That is the only
    reading that reproduces the published sample (start=2024-05-01, end=2024-05-07, day, America/New_York →
    meta.start 2024-05-01T04:00:00.000Z, meta.end 2024-05-07T03:59:59.000Z, bucket_count 7).
    For a client: to load local days D1..D2, ask start=D1, end=D2+1 and drop buckets >= meta.end.
    ``bucket_count`` (> ``humblytics_bucket_limit`` → 400) counts that inclusive series: 500 hourly buckets
    is start .. start+499 h; start .. start+500 h is 501 buckets and a 400.

    THE OTHER READING (``SandboxConfig.humblytics_end_inclusive=True``), for clients that must survive either:
    ``end`` is inclusive. A date-only ``end`` D covers its whole local day (data through D 23:59:59 local,
    ``meta.end`` that second); a timestamp ``end`` T covers T's second (``meta.end`` = T). The bucket series
    stops with the last bucket holding data: no trailing zero bucket, so start=D1, end=D2 by day is D1..D2
    and ``bucket_count`` is the number of days. ``end`` must still fall after ``start``, so start=D, end=D is
    one day. Under it the published sample answers 7 buckets with meta.end 2024-05-08T03:59:59.000Z.

Other decisions where the document is silent:
    * Auth answers in this order: 401 for a key the sandbox does not know (neither ``humblytics_key`` nor one
      of ``humblytics_keys_without_metrics``), 403 when the path's property is not the key's, then 403 when
      the key lacks the ``metrics`` permission (document: "Ensure the key has the metrics permission").
    * Weeks start on Monday (ISO) and months on the 1st, local; day/week/month steps are DST-aware, so a
      spring-forward day has 23 hourly buckets; bucket timestamps are UTC instants with milliseconds.
    * ``limit`` is validated (1..50; 51 → 400 — "maximum supported value: 50", not clamped) on the
      endpoints that document it; ignored on traffic/trends. It caps pages and, within a page, targets/forms.
    * There is no paging of segment rows: the document publishes none, so rows beyond the top 50 are not
      reachable. ``page`` is only the details endpoints' page path (URL-decoded); elsewhere it is ignored,
      as are other unknown parameters.
    * traffic/breakdown has no documented granularity; its range is limited as day buckets and its meta has
      no granularity/bucket_count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pendulum

from sandbox.core import SandboxConfig, SandboxRequest, SandboxResponse
from sandbox.humblytics_world import (
    Buckets,
    format_instant,
    items,
    per_page,
    segments,
    traffic_trend,
    trend,
    visits_between,
)

PREFIX = "/api/external/v1/properties/"
ENDPOINTS = (
    "traffic/trends",
    "traffic/breakdown",
    "clicks/breakdown",
    "clicks/details",
    "forms/breakdown",
    "forms/details",
)
GRANULARITIES = ("hour", "day", "week", "month")  # document: "Accepted values: hour, day, week, month."
DEFAULT_LIMIT, MAX_LIMIT = 10, 50  # document: default 10, "maximum supported value: 50"
_START_OF = {"hour": "hour", "day": "day", "week": "week", "month": "month"}
_STEP = {"hour": {"hours": 1}, "day": {"days": 1}, "week": {"weeks": 1}, "month": {"months": 1}}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InvalidRequest(ValueError):
    """Answered with 400 invalid_request (document, Errors)."""


def _error(status: int, code: str, message: str) -> SandboxResponse:
    return SandboxResponse.json(status, {"error": code, "message": message})


@dataclass(frozen=True)
class Window:
    start: pendulum.DateTime
    end: pendulum.DateTime  # exclusive
    buckets: Buckets

    def meta(self, prop: str, tz: str, granularity: str | None) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "property_id": prop,
            "start": _iso(self.start),
            "end": _iso(self.end.subtract(seconds=1)),
            "timezone": tz,
        }
        if granularity is not None:
            meta |= {"granularity": granularity, "bucket_count": len(self.buckets.starts)}
        return meta


def _iso(moment: pendulum.DateTime) -> str:
    return format_instant(int(moment.timestamp() * 1000))


def _parse_moment(value: str | None, name: str, tz: pendulum.Timezone) -> pendulum.DateTime:
    if not value:
        raise InvalidRequest(f"{name} is required (ISO-8601 date or timestamp)")
    try:
        if _DATE_ONLY.match(value):
            day = pendulum.from_format(value, "YYYY-MM-DD")
            return pendulum.datetime(day.year, day.month, day.day, tz=tz)
        if "T" not in value:
            raise ValueError(value)
        parsed = pendulum.parse(value, strict=True, tz=tz)
    except ValueError as exc:
        raise InvalidRequest(f"{name} is not a valid ISO-8601 date or timestamp: {value!r}") from exc
    if not isinstance(parsed, pendulum.DateTime):
        raise InvalidRequest(f"{name} is not a valid ISO-8601 date or timestamp: {value!r}")
    return parsed


def parse_window(request: SandboxRequest, config: SandboxConfig, granularity: str) -> tuple[Window, str]:
    """Validate start/end/timezone and lay out the buckets (see THE RANGE RULE and THE OTHER READING above)."""
    tz_name = request.param("timezone") or "UTC"
    try:
        tz = pendulum.timezone(tz_name)
    except (ValueError, pendulum.tz.exceptions.InvalidTimezone) as exc:
        raise InvalidRequest(f"Unsupported timezone: {tz_name!r} (expected an IANA zone name)") from exc
    start = _parse_moment(request.param("start"), "start", tz).in_tz(tz)
    end = _parse_moment(request.param("end"), "end", tz).in_tz(tz)
    inclusive = config.humblytics_end_inclusive
    if inclusive:  # THE OTHER READING: `end` (exclusive from here on) moves past the day or second it names
        end = end.add(days=1) if _DATE_ONLY.match(request.param("end") or "") else end.add(seconds=1)
    if end.subtract(seconds=1 if inclusive else 0) <= start:  # document: "end ... occurs after start"
        raise InvalidRequest("end must be after start")
    limit = config.humblytics_bucket_limit
    starts: list[int] = []
    moment = start.start_of(_START_OF[granularity])
    while moment < end or (moment == end and not inclusive):
        if len(starts) == limit:  # document: "Maximum of 500 buckets per request"
            raise InvalidRequest(f"range too large: more than {limit} {granularity} buckets")
        starts.append(int(moment.timestamp()))
        moment = moment.add(**_STEP[granularity])
    return Window(start, end, Buckets(starts)), tz_name


def _granularity(request: SandboxRequest) -> str:
    value = request.param("granularity") or "day"
    if value not in GRANULARITIES:
        raise InvalidRequest(f"Unsupported granularity: {value!r} (hour, day, week, month)")
    return value


def _limit(request: SandboxRequest) -> int:
    raw = request.param("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be an integer between 1 and {MAX_LIMIT}")
    return int(raw)


class HumblyticsSim:
    """Stateless: every answer is a function of the request and the config."""

    name = "humblytics"

    def matches(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def handle(self, request: SandboxRequest, config: SandboxConfig) -> SandboxResponse:
        prop, _, endpoint = request.path[len(PREFIX) :].partition("/")
        endpoint = endpoint.rstrip("/")
        if endpoint not in ENDPOINTS:
            return _error(404, "not_found", f"Unknown endpoint: {request.path}")
        if request.method != "GET":
            return _error(405, "method_not_allowed", "Only GET is supported.")
        auth = request.header("Authorization") or ""
        scheme, _, key = auth.partition(" ")
        key = key.strip()
        lacks_metrics = key in config.humblytics_keys_without_metrics
        if scheme.lower() != "bearer" or (key != config.humblytics_key and not lacks_metrics):
            return _error(401, "unauthorized", "Missing or invalid API key header.")
        if prop != config.humblytics_property:  # keys are property-scoped (document, Authentication)
            return _error(403, "forbidden", "Property ID does not match the API key.")
        if lacks_metrics:  # document, Errors: 403 when "the key does not have metrics permission"
            return _error(403, "forbidden", "API key does not have the metrics permission.")
        try:
            return SandboxResponse.json(200, self._answer(endpoint, prop, request, config))
        except InvalidRequest as exc:
            return _error(400, "invalid_request", str(exc))

    def _answer(self, endpoint: str, prop: str, request: SandboxRequest, config: SandboxConfig) -> dict[str, Any]:
        has_granularity = endpoint != "traffic/breakdown"
        granularity = _granularity(request) if has_granularity else "day"
        limit = _limit(request) if endpoint != "traffic/trends" else DEFAULT_LIMIT
        page = None
        if endpoint.endswith("/details"):
            page = request.param("page")  # already URL-decoded by the query-string parser
            if not page:
                raise InvalidRequest("page is required (URL-encoded page path)")
        window, tz_name = parse_window(request, config, granularity)
        meta = window.meta(prop, tz_name, granularity if has_granularity else None)
        visits = visits_between(config, int(window.start.timestamp()), int(window.end.timestamp()))
        buckets = window.buckets
        if endpoint == "traffic/trends":
            return {"meta": meta, "data": traffic_trend(buckets, visits)}
        if endpoint == "traffic/breakdown":
            return {"meta": meta, "data": segments(visits, limit)}
        kind, item = ("clicks", "target") if endpoint.startswith("clicks") else ("submissions", "form")
        events = [(p, name, v.at, v.session) for v in visits for p, name in (v.clicks if kind == "clicks" else v.forms)]
        if page is None:
            data = {
                "pages": per_page([(p, n, s) for p, n, _, s in events], limit, kind, item),
                "trend": trend(buckets, ((at, s) for _, _, at, s in events), kind),
            }
        else:
            mine = [(n, at, s) for p, n, at, s in events if p == page]
            data = {
                "page": page,
                f"{item}s": items([(n, s) for n, _, s in mine], limit, kind, item, share=True),
                "trend": trend(buckets, ((at, s) for _, at, s in mine), kind),
            }
        return {"meta": meta, "data": data}
