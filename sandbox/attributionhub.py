"""AttributionHub simulator: ``POST /api/v1/conversions`` and ``POST /api/v1/insights``.

Behaves as attributionhub-conversions-api.txt, attributionhub-insights-api.txt and facts.md say, including
the parts that are awkward for a client:

* auth is the literal header ``Authentication: <key>`` (not ``Authorization``); filters travel in a JSON body;
* two pagination modes on /conversions (records vs sessions as the offset unit), so a session-filtered page
  can hold 0 records with ``has_more: true`` or more than 50 records;
* "no results" is a 200 with a ``message`` body, not an empty list;
* late conversions: a conversion on day D appears only once simulated today >= D + k (k in
  1..``late_conversion_days``, about one in five has k > 1), so re-running a window finds more records
  (``conversions_arrive_intraday``: at an instant of that day instead, so they also arrive mid-run);
* a monthly request quota answered with 429 and no Retry-After (waiting does not help within the month).

Decisions where the documents are silent (kept here, in one place):

* Sort order is newest session first (the document's sample lists 15:14 before 14:31), ties by session
  then conversion order; it is stable for a fixed ``today`` but late conversions can shift offsets.
* A session-filtered request stops after ``attributionhub_session_batches_per_request`` batches of 200
  sessions even below 50 records (a server-side time budget): that is how an empty page with
  ``has_more: true`` arises.
* The "no results" message is returned whenever a response would hold no records and ``has_more`` is
  false: for a query matching nothing, and for an offset past the end.
* ``start_date`` after ``end_date``, non-string filters and a negative/non-integer offset are 400s;
  unknown body keys are ignored, as a JSON API usually does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pendulum

from sandbox.attributionhub_query import AttributionQuery, QueryError, parse_query
from sandbox.core import SandboxConfig, SandboxRequest, SandboxResponse
from sandbox.sessions_world import Conversion, Session, conversions_visible, day_of, sessions_for_days

CONVERSIONS_PATH = "/api/v1/conversions"
INSIGHTS_PATH = "/api/v1/insights"
PAGE_SIZE = 50  # "Each page can contain up to 50 records" (conversions document)
SESSION_BATCH = 200  # "The API processes sessions in batches of 200" (conversions document)
NO_CONVERSIONS = {"message": "No conversions matched the given filters."}  # conversions document, No Results
NO_INSIGHTS = {"message": "No page data found for the given parameters."}  # insights document, No Results
QUOTA_DOMAIN = "example.com"


@dataclass(frozen=True)
class _Row:
    session: Session
    conversion: Conversion


def _record(row: _Row, field_variants: bool = False) -> dict[str, Any]:
    """One record. ``field_variants``: an email that was not captured is sometimes left out instead of null
    (the document: "if captured"), and about one record in seven has ``previous_page: null``."""
    conv = row.conversion
    record = {
        "email": row.session.email if conv.email_captured else None,
        # "timestamp: When the session started" (conversions document), formatted like its sample.
        "timestamp": pendulum.from_timestamp(row.session.start).format("YYYY-MM-DD HH:mm:ss"),
        "conversion_page": conv.page,
        "previous_page": conv.previous_page,
        "conversion_meta": {"type": conv.meta_type, "id": conv.meta_id},
    }
    if field_variants:
        index = row.session.key[1]
        if record["email"] is None and index % 2:
            del record["email"]
        if index % 7 == 2:
            record["previous_page"] = None
    return record


def _error(status: int, error: str, message: str) -> SandboxResponse:
    return SandboxResponse.json(status, {"error": error, "message": message})


class AttributionHubSim:
    """Pure request → response over the sessions world; the only state is the monthly quota counter."""

    name = "attributionhub"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[tuple[int, int], int] = {}

    def reset(self) -> None:
        """Forget quota usage (the server calls this between tests/scenarios)."""
        with self._lock:
            self._used.clear()

    def matches(self, path: str) -> bool:
        return path.startswith("/api/v1/")

    def handle(self, request: SandboxRequest, config: SandboxConfig) -> SandboxResponse:
        if request.path not in (CONVERSIONS_PATH, INSIGHTS_PATH):
            return _error(404, "Not Found", f"No route for {request.path}")
        if request.method != "POST":  # both documents: POST with a JSON body
            return _error(405, "Method Not Allowed", "Use POST with a JSON body of filters.")
        # facts.md: the header is literally "Authentication", not "Authorization".
        if request.header("Authentication") != config.attributionhub_key:
            return _error(401, "Unauthorized", "Missing or invalid API key in the Authentication header.")
        over_quota = self._count_request(config)
        if over_quota is not None:
            return over_quota
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error(400, "Bad Request", "Content-Type must be application/json.")
        try:
            body = request.json()
            query = parse_query(body, config, allow_touch_scope=request.path == INSIGHTS_PATH)
        except QueryError as exc:
            return _error(400, "Bad Request", str(exc))
        except ValueError:  # orjson.JSONDecodeError
            return _error(400, "Bad Request", "Request body is not valid JSON.")
        if request.path == INSIGHTS_PATH:
            from sandbox.attributionhub_insights import compute_insights

            result = compute_insights(query, config)
            return SandboxResponse.json(200, result if result is not None else NO_INSIGHTS)
        return SandboxResponse.json(200, conversions_page(query, config))

    def _count_request(self, config: SandboxConfig) -> SandboxResponse | None:
        """Monthly quota per simulated calendar month (facts.md); None when the request may proceed."""
        limit = config.attributionhub_monthly_quota
        if limit is None:
            return None
        month = (config.today.year, config.today.month)
        with self._lock:
            used = self._used.get(month, 0)
            if used >= limit:
                # facts.md: body as below, and no Retry-After: waiting does not help within the month.
                body = {"error": "API monthly limit exceeded.", "limit": limit, "used": used}
                return SandboxResponse.json(429, {**body, "domain": QUOTA_DOMAIN})
            self._used[month] = used + 1
        return None


def _window_sessions(query: AttributionQuery, config: SandboxConfig) -> list[Session]:
    """Sessions started inside the window, newest first."""
    days = sessions_for_days(config, day_of(query.start), day_of(query.end))
    inside = [s for s in days if query.start <= s.start <= query.end]
    inside.reverse()
    return inside


def _rows(sessions: list[Session], query: AttributionQuery, config: SandboxConfig) -> list[_Row]:
    visible = conversions_visible(config)
    return [_Row(s, c) for s in sessions for c in visible(s) if query.conversion_matches(c)]


def conversions_page(query: AttributionQuery, config: SandboxConfig) -> dict[str, Any]:
    """One /conversions response body in the mode the conversions document prescribes."""
    sessions = _window_sessions(query, config)
    if not query.has_session_filters:
        # "Without Session Filters": offset counts conversion records; up to 50 per page.
        rows = _rows(sessions, query, config)
        page = rows[query.offset : query.offset + PAGE_SIZE]
        processed = query.offset + len(page)
        total, has_more = len(rows), query.offset + len(page) < len(rows)
    else:
        # "With Session Filters": offset counts sessions; batches of 200 until >= 50 records or the pool
        # (or this server's per-request batch budget) is exhausted; total_records counts SESSIONS.
        pool = [s for s in sessions if query.session_matches(s)]
        processed, page = query.offset, []
        batches = 0
        while processed < len(pool) and len(page) < PAGE_SIZE:
            if batches >= config.attributionhub_session_batches_per_request:
                break
            page.extend(_rows(pool[processed : processed + SESSION_BATCH], query, config))
            processed = min(processed + SESSION_BATCH, len(pool))
            batches += 1
        total, has_more = len(pool), processed < len(pool)
    if not page and not has_more:
        return NO_CONVERSIONS
    return {
        "records": [_record(row, config.field_variants) for row in page],
        "pagination": {"records_processed": processed, "total_records": total, "has_more": has_more},
    }
