"""HubSpot sources: `hubspot_analytics` (reporting v2) and `hubspot_leads` (Leads v1).

Both read `[sources.hubspot]` (dlt derives the section from this module's name): `access_token`,
`base_url`, `start_date`; analytics also `reports`, `lookback_days` and `timezone` (the portal's
reporting timezone: a day is loaded once it is over there), leads `hard_delete`.
Backfills pass `backfill_start`/`backfill_end`, which become `incremental.end_value` so the nightly
cursors are neither read nor moved.
"""

from __future__ import annotations

from collections.abc import Sequence

import dlt
import pendulum
from dlt.sources import DltResource

from sources.common.cursors import backfill_range
from sources.common.dates import parse_timezone, resolve_start_date

from . import analytics, leads, settings
from .client import analytics_client, leads_client


# Nesting 1: a nested object a vendor adds to a row becomes child columns (`segment__id`); rows never hold lists.
@dlt.source(name=settings.ANALYTICS_SOURCE, max_table_nesting=1)
def hubspot_analytics(
    access_token: str = dlt.secrets.value,
    base_url: str = settings.BASE_URL,
    start_date: str | None = None,
    reports: Sequence[str] = tuple(settings.DEFAULT_REPORTS),
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    timezone: str = settings.DEFAULT_TIMEZONE,
    backfill_start: pendulum.Date | None = None,
    backfill_end: pendulum.Date | None = None,
) -> list[DltResource]:
    """One merge-by-day table per report; the nightly re-reads `lookback_days` because HubSpot restates them."""
    return analytics.report_resources(
        analytics_client(access_token, base_url),
        reports=reports,
        start_date=resolve_start_date(start_date, settings.DEFAULT_START_DAYS_AGO),
        lookback_days=lookback_days,
        timezone=parse_timezone(timezone, "SOURCES__HUBSPOT__TIMEZONE"),
        backfill=backfill_range(backfill_start, backfill_end),
    )


@dlt.source(name=settings.LEADS_SOURCE)
def hubspot_leads(
    access_token: str = dlt.secrets.value,
    base_url: str = settings.BASE_URL,
    start_date: str | None = None,
    hard_delete: bool = False,
    backfill_start: pendulum.Date | None = None,
    backfill_end: pendulum.Date | None = None,
) -> DltResource:
    """Leads by `lastModifiedAt`, merged on `guid`; children replaced when a lead is re-loaded."""
    return leads.leads_resource(
        leads_client(access_token, base_url),
        start_date=resolve_start_date(start_date, settings.DEFAULT_START_DAYS_AGO),
        hard_delete=hard_delete,
        backfill=backfill_range(backfill_start, backfill_end),
    )
