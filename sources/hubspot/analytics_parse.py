"""Pure helpers for the HubSpot Analytics (reporting v2) source: report validation, payload parsing.

No HTTP and no dlt here, so every vendor shape is unit-tested on plain dicts. The payload shapes are
those of hubspot-analytics-api.txt ("Example data"); where the document is silent we parse tolerantly
(unknown keys and shapes are skipped, a missing metric is simply absent) as facts.md asks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pendulum

from sources.common.errors import ConfigError
from sources.common.naming import snake_case

# facts.md, "Paths": the three families of `{report}` in `/analytics/v2/reports/{report}/{time_period}`.
BREAKDOWN_BY = frozenset(
    {
        "totals",
        "sessions",
        "sources",
        "geolocation",
        "utm-campaigns",
        "utm-contents",
        "utm-mediums",
        "utm-sources",
        "utm-terms",
    }
)
OBJECT_TYPES = frozenset({"event-completions", "forms", "pages", "social-assists"})
CONTENT_TYPES = frozenset({"landing-pages", "standard-pages", "blog-posts", "listing-pages", "knowledge-articles"})
KNOWN_REPORTS = BREAKDOWN_BY | OBJECT_TYPES | CONTENT_TYPES

TABLE_PREFIX = "hubspot_analytics_"

# Columns we add; a vendor field with one of these names must not overwrite them.
KEY_COLUMNS = ("date", "d1", "d2", "breakdown")
RESERVED_COLUMNS = frozenset({*KEY_COLUMNS, "_loaded_at"})

# Metrics named in hubspot-analytics-api.txt. Declared so the warehouse types do not depend on the first
# value seen: a ratio that happens to be `1` must still land as a double. New metrics still land (schema
# evolution infers them); only these get a guaranteed type.
COUNT_METRICS = (
    "raw_views",
    "visits",
    "visitors",
    "submissions",
    "leads",
    "contacts",
    "subscribers",
    "marketing_qualified_leads",
    "sales_qualified_leads",
    "opportunities",
    "customers",
)
RATIO_METRICS = (
    "pageviews_per_session",
    "bounce_rate",
    "time_per_session",
    "new_visitor_session_rate",
    "session_to_contact_rate",
    "contact_to_customer_rate",
)
_RATIO_SET = frozenset(RATIO_METRICS)

_DAY_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Drill:
    """Where a daily request drills: `d1`/`d2` query values ('' = not drilled)."""

    d1: str = ""
    d2: str = ""

    def params(self) -> dict[str, str]:
        return {k: v for k, v in (("d1", self.d1), ("d2", self.d2)) if v}


def validate_reports(reports: Iterable[str]) -> list[str]:
    """Refuse unknown report names before any request: a typo must not cost a night of 404s."""
    if isinstance(reports, str):
        # A TOML/env value of "totals,sources" arrives as one string.
        reports = reports.split(",")
    names = [str(r).strip() for r in reports]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in KNOWN_REPORTS]
    if unknown:
        raise ConfigError(
            f"Unknown HubSpot analytics report(s) {', '.join(repr(u) for u in sorted(set(unknown)))} in "
            f"`reports`: use any of {', '.join(sorted(KNOWN_REPORTS))}."
        )
    if not names:
        raise ConfigError("No HubSpot analytics reports configured; set `reports` to at least one report.")
    return list(dict.fromkeys(names))  # keep order, drop repeats


def table_name(report: str) -> str:
    """`utm-campaigns` → `hubspot_analytics_utm_campaigns` (warehouse names have no dashes)."""
    return TABLE_PREFIX + report.replace("-", "_")


def yyyymmdd(day: pendulum.Date) -> str:
    """facts.md: `start`/`end` are `YYYYMMDD`, both inclusive."""
    return day.format("YYYYMMDD")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def parse_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One vendor row → `breakdown` + snake_cased fields; nulls and lists are skipped.

    A nested object is kept as it came: dlt flattens it into child columns (`segment` → `segment__id`), so a
    vendor adding one loses nothing (issue 18, drift). Lists have no key to merge a child table on; skipped.
    """
    row: dict[str, Any] = {"breakdown": str(raw.get("breakdown") or "")}
    for key, value in raw.items():
        if key == "breakdown" or value is None or not (_is_scalar(value) or isinstance(value, Mapping)):
            continue
        column = snake_case(key)
        if column in RESERVED_COLUMNS:
            continue
        ratio = column in _RATIO_SET and isinstance(value, (int, float)) and not isinstance(value, bool)
        row[column] = float(value) if ratio else value
    return row


def parse_daily(payload: Any, drill: Drill = Drill()) -> list[dict[str, Any]]:
    """Daily payload `{"YYYY-MM-DD": [rows...]}` → flat rows keyed (date, d1, d2, breakdown).

    Keys that are not days and values that are not lists of objects are ignored (hubspot-analytics-api.txt
    only promises the day-keyed shape). Rows come out in day order so the incremental cursor moves forward.
    """
    if not isinstance(payload, Mapping):
        return []
    rows: list[dict[str, Any]] = []
    for key in sorted(k for k in payload if isinstance(k, str) and _DAY_KEY.match(k)):
        items = payload[key]
        if not isinstance(items, list):
            continue
        try:
            day = pendulum.Date.fromisoformat(key)
        except ValueError:
            continue
        for raw in items:
            if isinstance(raw, Mapping):
                rows.append({"date": day, "d1": drill.d1, "d2": drill.d2, **parse_row(raw)})
    return rows


def total_breakdowns(payload: Any) -> list[Mapping[str, Any]]:
    """`total` payload → its `breakdowns` list (the records `paginate` counts), tolerating absence."""
    if not isinstance(payload, Mapping):
        return []
    items = payload.get("breakdowns")
    return [b for b in items if isinstance(b, Mapping)] if isinstance(items, list) else []


def breakdown_values(breakdowns: Iterable[Mapping[str, Any]]) -> list[str]:
    """Distinct non-empty `breakdown` ids in first-seen order: the values usable as d1/d2."""
    values = (str(b.get("breakdown") or "") for b in breakdowns)
    return list(dict.fromkeys(v for v in values if v))


def column_hints() -> dict[str, dict[str, Any]]:
    """dlt column schema for the fixed columns and the documented metrics."""
    columns: dict[str, dict[str, Any]] = {
        "date": {"data_type": "date", "nullable": False},
        **{k: {"data_type": "text", "nullable": False} for k in ("d1", "d2", "breakdown")},
        "_loaded_at": {"data_type": "timestamp", "timezone": True, "nullable": False},
    }
    columns.update({m: {"data_type": "bigint", "nullable": True} for m in COUNT_METRICS})
    columns.update({m: {"data_type": "double", "nullable": True} for m in RATIO_METRICS})
    return columns
