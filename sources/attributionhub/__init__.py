"""AttributionHub source `attributionhub`: conversions and insights snapshots.

Reads `[sources.attributionhub]` (dlt derives the section from this package's name): `api_key` (secret,
sent as the literal `Authentication` header), `base_url` (required: the vendor publishes no host,
facts.md), `start_date`, `lookback_days`, `segments` (insights cohorts), `conversion_filters` and
`max_requests_per_run` (a per-run request budget that keeps a backfill from spending the monthly quota).
Backfills pass `backfill_start`/`backfill_end`, which become `incremental.end_value` so the nightly cursors
are neither read nor moved.

The monthly quota's 429 stops the source at once: whole windows loaded before it stay loaded, the cursors
stand on them, and the runner reports the source failed with the vendor's limit and used counts.
"""

from __future__ import annotations

from typing import Any

import dlt
import pendulum
from dlt.sources import DltResource

from sources.common.cursors import backfill_range
from sources.common.dates import resolve_start_date
from sources.common.errors import ConfigError

from . import settings
from .client import attributionhub_client
from .conversions import conversions_resource
from .insights import insights_resource
from .segments import parse_conversion_filters, parse_segments


def _base_url(value: str | None) -> str:
    """Required and absolute: there is no default host to fall back to (facts.md)."""
    url = (value or "").strip()
    if not url:
        raise ConfigError(
            "Missing setting base_url for attributionhub: set SOURCES__ATTRIBUTIONHUB__BASE_URL or "
            "[sources.attributionhub] base_url in .dlt/config.toml (AttributionHub publishes no default host)."
        )
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"base_url {url!r} must start with https:// or http:// (SOURCES__ATTRIBUTIONHUB__BASE_URL).")
    return url.rstrip("/")


@dlt.source(name=settings.SOURCE, max_table_nesting=1)
def attributionhub(
    api_key: str = dlt.secrets.value,
    base_url: str | None = None,
    start_date: str | None = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    segments: list[dict[str, Any]] | None = None,
    conversion_filters: dict[str, Any] | None = None,
    max_requests_per_run: int | None = None,
    backfill_start: pendulum.Date | None = None,
    backfill_end: pendulum.Date | None = None,
) -> list[DltResource]:
    """`attributionhub_conversions` and `attributionhub_insights` (+ `__channels`); config checked here,
    before any request."""
    url = _base_url(base_url)
    parsed_segments = parse_segments(segments)
    filters = parse_conversion_filters(conversion_filters)
    start = resolve_start_date(start_date, settings.DEFAULT_START_DAYS_AGO)
    backfill = backfill_range(backfill_start, backfill_end)
    client = attributionhub_client(api_key, url, max_requests_per_run=max_requests_per_run)
    return [
        conversions_resource(client, filters=filters, start_date=start, lookback_days=lookback_days, backfill=backfill),
        insights_resource(
            client, segments=parsed_segments, start_date=start, lookback_days=lookback_days, backfill=backfill
        ),
    ]
