"""The fewest requests a nightly can make, per source, from the vendor documents, the data and the lookback.

A nightly must read the new day(s) and re-read the days its lookback covers: `lookback_days` days already
loaded (README "Configuration"; sources/common/cursors.py), plus the new day.
Per day, what the documents force (each rule names its document):
- HubSpot analytics (hubspot-analytics-api.txt): one `daily` request per report per window of <= 500 points;
  a drilled report one paged `total` per drill level to find its values (350 a page, facts.md) and one
  `daily` per value.
- HubSpot Leads (hubspot-leads-api.txt): one page per 100 leads modified in the range, at least one.
- AttributionHub: conversions 50 records a page per window (conversions document), recent days one window
  each (conversions.plan_conversion_windows says why); insights one snapshot per segment per day plus one
  per completed month (insights document: a window per request).
- Humblytics: trends 500 buckets a request; breakdowns are top lists of a range, so one request per day for
  each daily table; details one request per page of the day's breakdown (the document: `page` is required).
Data-dependent counts (drill values, conversions per day, pages per day) are read from the warehouse the
nightly just loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pendulum

DATASET = "marketing"
LOOKBACK_DAYS = 3  # every source's default lookback_days
REPORTS = 11  # settings.DEFAULT_REPORTS
DRILLED_TO_D2 = ("organic", "paid")  # sources.hubspot.settings.DRILLDOWN_D2["sources"]
SEGMENTS = 1


@dataclass(frozen=True)
class Minimum:
    requests: int
    why: str


def read_days(nightly: pendulum.DateTime) -> list[pendulum.Date]:
    """The days the nightly at `nightly` must read when the warehouse holds everything through the day before
    yesterday: the new day (yesterday) and the lookback."""
    yesterday = nightly.date().subtract(days=1)
    last_loaded = yesterday.subtract(days=1)
    first = last_loaded.subtract(days=LOOKBACK_DAYS - 1)
    return [first.add(days=i) for i in range(yesterday.diff(first).in_days() + 1)]


def minimum(warehouse: Path, nightly: pendulum.DateTime, leads_changed: int) -> dict[str, Minimum]:
    days = read_days(nightly)
    first, last, n = days[0], days[-1], len(days)
    with duckdb.connect(str(warehouse), read_only=True) as con:

        def scalar(sql: str, *params: object) -> int:
            return int(con.execute(sql, [first, last, *params]).fetchone()[0])  # type: ignore[index]

        d1 = scalar(
            f"SELECT COUNT(DISTINCT d1) FROM {DATASET}.hubspot_analytics_sources "
            "WHERE date BETWEEN ? AND ? AND d1 <> '' AND d2 = ''"
        )
        d2 = {
            value: scalar(
                f"SELECT COUNT(DISTINCT d2) FROM {DATASET}.hubspot_analytics_sources "
                "WHERE date BETWEEN ? AND ? AND d1 = ? AND d2 <> ''",
                value,
            )
            for value in DRILLED_TO_D2
        }
        conversions = con.execute(
            f"SELECT date, COUNT(*) FROM {DATASET}.attributionhub_conversions WHERE date BETWEEN ? AND ? GROUP BY date",
            [first, last],
        ).fetchall()
        clicks = scalar(
            f"SELECT COUNT(*) FROM (SELECT DISTINCT date, page FROM {DATASET}.humblytics_clicks_breakdown "
            "WHERE date BETWEEN ? AND ?)"
        )
        forms = scalar(
            f"SELECT COUNT(*) FROM (SELECT DISTINCT date, page FROM {DATASET}.humblytics_forms_breakdown "
            "WHERE date BETWEEN ? AND ?)"
        )
    windows = math.ceil(n / 500)
    drilled = [value for value, count in d2.items() if count]
    analytics = REPORTS * windows + windows * (1 + len(drilled)) + d1 + sum(d2.values())
    per_day = {day: count for day, count in conversions}
    conversion_pages = sum(max(1, math.ceil(per_day.get(day, 0) / 50)) for day in days)
    months = sum(1 for day in days if day == day.end_of("month"))
    insights = SEGMENTS * (n + months)
    span = f"{n} days {first}..{last}"
    return {
        "hubspot_analytics": Minimum(
            analytics, f"{span}: {REPORTS} reports, {1 + len(drilled)} drill lists, {d1 + sum(d2.values())} values"
        ),
        "hubspot_leads": Minimum(max(1, math.ceil(leads_changed / 100)), f"{leads_changed} leads changed, 100 a page"),
        "attributionhub": Minimum(
            conversion_pages + insights, f"{span}: conversions {conversion_pages} pages, insights {insights}"
        ),
        "humblytics": Minimum(
            math.ceil((n + 1) / 500) + 3 * n + clicks + forms,
            f"{span}: 1 trends, {3 * n} breakdowns, {clicks + forms} page details",
        ),
    }
