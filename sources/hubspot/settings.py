"""HubSpot constants. Each vendor quirk names the document that states it."""

BASE_URL = "https://api.hubapi.com"  # facts.md
VENDOR = "hubspot"
ANALYTICS_SOURCE = "hubspot_analytics"  # the dlt source names: runs report failures under them
LEADS_SOURCE = "hubspot_leads"

# Days back from today the first nightly starts when `start_date` is not configured.
DEFAULT_START_DAYS_AGO = 30
DEFAULT_LOOKBACK_DAYS = 3  # facts.md: recent days are restated for a few days
# The portal's reporting timezone decides when a day is complete; HubSpot reports days in it.
DEFAULT_TIMEZONE = "UTC"

# Private apps: 190 requests per 10 s burst (facts.md). Shared by analytics and leads: one portal, one budget.
RATE_LIMIT = (190, 10.0)

# --- Analytics (reporting v2) ---
ANALYTICS_PATH = "/analytics/v2/reports/{report}/{time_period}"
MAX_TIME_POINTS = 500  # 413 RESULT_POINT_LIMIT_EXCEEDED past this (hubspot-analytics-api.txt)
TOTAL_PAGE_LIMIT = 350  # the vendor's default `limit` for `total` breakdowns (facts.md)
DEFAULT_REPORTS = [
    "totals",
    "sources",
    "utm-campaigns",
    "utm-sources",
    "utm-mediums",
    "geolocation",
    "landing-pages",
    "standard-pages",
    "blog-posts",
    "forms",
    "event-completions",
]
# Reports that accept d1/d2 drilldowns (facts.md: the breakdown_by family) and the d1 values drilled to d2.
DRILLDOWN_D1 = {"sources"}
DRILLDOWN_D2 = {"sources": ("organic", "paid")}
# Drilldown `daily` requests of one report window in flight at once (extraction is latency-bound,
# performance-notes.md); the shared RATE_LIMIT still caps the burst.
DRILL_WORKERS = 4

# --- Leads v1 ---
LEADS_PATH = "/leads/v1/list"
LEADS_PAGE_SIZE = 100  # `max` is served as at most 100 (hubspot-leads-api.txt)
LEADS_TIME_PIVOT = "lastModifiedAt"
LEADS_TOKEN_PARAM = "access_token"  # the token travels in the query string (hubspot-leads-api.txt)
LEADS_BATCH_SIZE = 4_000  # leads flattened into one set of arrow tables (amortizes dlt's per-item cost)
