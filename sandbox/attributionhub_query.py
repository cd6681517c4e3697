"""Parsing and matching of the AttributionHub JSON filter body, shared by /conversions and /insights.

Both documents list the same filters: dates, three conversion-level filters and six session-level ones,
all exact, case-sensitive, AND-combined ("google.com ≠ Google.com", insights document).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pendulum

from sandbox.core import QueryError, SandboxConfig
from sandbox.sessions_world import Conversion, Session

DEFAULT_WINDOW_DAYS = 30  # "Unless otherwise specified, the query defaults to a 30-day time window."
SESSION_FILTERS = ("source", "medium", "campaign", "content", "term", "landing_page")
# Filter name → Conversion attribute.
CONVERSION_FILTERS = {"conversion_page": "page", "meta_type": "meta_type", "meta_id": "meta_id"}
TOUCH_SCOPES = ("any", "first", "converting", "assist", "after")  # insights document, touch_scope enum
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class AttributionQuery:
    start: int  # epoch seconds, inclusive ("on or after")
    end: int  # epoch seconds, inclusive ("before or on")
    session_filters: tuple[tuple[str, str], ...]
    conversion_filters: tuple[tuple[str, str], ...]
    offset: int = 0
    touch_scope: str = "any"

    @property
    def has_session_filters(self) -> bool:
        """Selects the /conversions pagination mode (conversions document, "pagination")."""
        return bool(self.session_filters)

    def session_matches(self, session: Session) -> bool:
        return all(getattr(session, name) == value for name, value in self.session_filters)

    def conversion_matches(self, conversion: Conversion) -> bool:
        return all(getattr(conversion, CONVERSION_FILTERS[n]) == v for n, v in self.conversion_filters)


def _parse_instant(value: Any, name: str, *, end_of_day: bool) -> int:
    """``YYYY-MM-DD`` or ISO 8601 (both documents); a date-only end_date covers that whole day."""
    if not isinstance(value, str):
        raise QueryError(f"{name} must be a string (YYYY-MM-DD or ISO 8601)")
    try:
        if _DATE_ONLY.match(value):
            day = pendulum.from_format(value, "YYYY-MM-DD", tz="UTC")
            return int(day.timestamp()) + (86399 if end_of_day else 0)
        if "T" not in value:
            raise ValueError(value)
        parsed = pendulum.parse(value, strict=True, tz="UTC")
    except ValueError as exc:  # pendulum's ParserError is a ValueError
        raise QueryError(f"Invalid {name}: {value!r}; expected YYYY-MM-DD or ISO 8601") from exc
    if not isinstance(parsed, pendulum.DateTime):
        raise QueryError(f"Invalid {name}: {value!r}; expected YYYY-MM-DD or ISO 8601")
    return int(parsed.timestamp())


def _string_filter(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise QueryError(f"{name} must be a string")
    return value


def parse_query(body: Any, config: SandboxConfig, *, allow_touch_scope: bool) -> AttributionQuery:
    """Validate a filter body. Simulated now is ``config.today`` 00:00 UTC."""
    if not isinstance(body, dict):
        raise QueryError("Request body must be a JSON object of filters")
    now = int(pendulum.datetime(config.today.year, config.today.month, config.today.day).timestamp())
    raw_start, raw_end = body.get("start_date"), body.get("end_date")
    end = now if raw_end is None else _parse_instant(raw_end, "end_date", end_of_day=True)
    if raw_start is None:
        start = end - DEFAULT_WINDOW_DAYS * 86400
    else:
        start = _parse_instant(raw_start, "start_date", end_of_day=False)
    if start > end:
        raise QueryError("start_date must be on or before end_date")
    offset = body.get("offset", 0)
    if offset is None:
        offset = 0
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise QueryError("offset must be a non-negative integer")
    touch_scope = "any"
    if allow_touch_scope:
        touch_scope = _string_filter(body, "touch_scope") or "any"
        if touch_scope not in TOUCH_SCOPES:
            raise QueryError(f"touch_scope must be one of {', '.join(TOUCH_SCOPES)}")
    sessions = tuple((n, v) for n in SESSION_FILTERS if (v := _string_filter(body, n)) is not None)
    conversions = tuple((n, v) for n in CONVERSION_FILTERS if (v := _string_filter(body, n)) is not None)
    return AttributionQuery(start, end, sessions, conversions, offset, touch_scope)
