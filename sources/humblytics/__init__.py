"""Humblytics source: `humblytics` (External Analytics API: traffic, clicks and forms at daily grain).

Reads `[sources.humblytics]` (dlt derives the section from this module's name): `api_key` (secret, sent
as a Bearer token), `property_id`, `base_url`, `start_date`, `lookback_days`, `timezone` (the property's
reporting zone: days and buckets are local days there) and `limit` (the top N of each breakdown list,
at most 50). Backfills pass `backfill_start`/`backfill_end`, which become `incremental.end_value` so the
nightly cursors are neither read nor moved. Configuration is checked here, before any request.
"""

from __future__ import annotations

import dlt
import pendulum
from dlt.sources import DltResource

from sources.common.dates import parse_timezone, resolve_start_date
from sources.common.errors import ConfigError

from . import settings
from .api import HumblyticsApi
from .client import humblytics_client
from .resources import humblytics_resources


def check_limit(limit: object) -> int:
    """`limit` must be 1..50: the document's "maximum supported value: 50"; refused here, not clamped."""
    value = limit if isinstance(limit, int) and not isinstance(limit, bool) else None
    if value is None and isinstance(limit, str) and limit.strip().isdigit():
        value = int(limit.strip())
    if value is None or not 1 <= value <= settings.MAX_LIMIT:
        raise ConfigError(
            f"limit must be a whole number from 1 to {settings.MAX_LIMIT} (the API's maximum), got {limit!r}: "
            "fix SOURCES__HUMBLYTICS__LIMIT or [sources.humblytics] limit."
        )
    return value


def check_property(property_id: object) -> str:
    value = str(property_id).strip() if property_id is not None else ""
    if not value:
        raise ConfigError(
            f"The Humblytics property id is empty: set {settings.PROPERTY_HINT} or [sources.humblytics] property_id."
        )
    return value


# Nesting 1: a nested object the vendor adds to a row becomes child columns (parse.py keeps it; rows hold no lists).
@dlt.source(name=settings.SOURCE, max_table_nesting=1)
def humblytics(
    api_key: str = dlt.secrets.value,
    property_id: str = dlt.config.value,
    base_url: str = settings.BASE_URL,
    start_date: str | None = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    timezone: str = settings.DEFAULT_TIMEZONE,
    limit: int = settings.DEFAULT_LIMIT,
    backfill_start: pendulum.Date | None = None,
    backfill_end: pendulum.Date | None = None,
) -> list[DltResource]:
    """Six merge-by-day tables; the nightly re-reads `lookback_days` (late events land in loaded days)."""
    checked_limit = check_limit(limit)
    checked_property = check_property(property_id)
    zone = parse_timezone(timezone, "SOURCES__HUMBLYTICS__TIMEZONE")
    api = HumblyticsApi(
        humblytics_client(api_key, base_url), property_id=checked_property, timezone=zone, limit=checked_limit
    )
    return humblytics_resources(
        api,
        start_date=resolve_start_date(start_date, settings.DEFAULT_START_DAYS_AGO),
        lookback_days=lookback_days,
        backfill=(backfill_start, backfill_end) if backfill_start and backfill_end else None,
    )
