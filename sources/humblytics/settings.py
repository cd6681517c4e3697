"""Humblytics constants. Each vendor quirk names the document that states it."""

BASE_URL = "https://app.humblytics.com/api/external/v1"  # humblytics-external-analytics-api.txt, "Base URL"
VENDOR = "humblytics"
SOURCE = "humblytics"  # the dlt source name: runs report failures under it

DEFAULT_START_DAYS_AGO = 30  # when `start_date` is not configured, like every other source
DEFAULT_LOOKBACK_DAYS = 3  # the nightly re-reads recent days: late events land in days already loaded
DEFAULT_TIMEZONE = "UTC"  # the document: `timezone` "defaults to UTC" and "determines bucket boundaries"
# `limit`: "Maximum entries per segment (maximum supported value: 50)" (the document); the default is the
# maximum because rows past the top N cannot be read at all (there is no paging).
MAX_LIMIT = 50
DEFAULT_LIMIT = MAX_LIMIT

# "Maximum of 500 buckets per request" (the document). Requests for days D1..D2 send `end` = D2 + 1 until
# the vendor's reading of `end` is known (ranges.py), and both readings then answer one bucket past D2.
MAX_BUCKETS = 500
TREND_GRANULARITY = "day"  # the trends table holds daily buckets

# Paths under `{base_url}/properties/{property_id}/` (facts.md, "Humblytics External Analytics API").
TRAFFIC_TRENDS = "traffic/trends"
TRAFFIC_BREAKDOWN = "traffic/breakdown"
CLICKS_BREAKDOWN = "clicks/breakdown"
CLICKS_DETAILS = "clicks/details"
FORMS_BREAKDOWN = "forms/breakdown"
FORMS_DETAILS = "forms/details"
# Endpoints that take `granularity` (the document lists it for trends, clicks and forms, not for
# traffic/breakdown) and `limit` (every endpoint but traffic/trends).
WITH_GRANULARITY = frozenset({TRAFFIC_TRENDS, CLICKS_BREAKDOWN, CLICKS_DETAILS, FORMS_BREAKDOWN, FORMS_DETAILS})
WITH_LIMIT = frozenset({TRAFFIC_BREAKDOWN, CLICKS_BREAKDOWN, CLICKS_DETAILS, FORMS_BREAKDOWN, FORMS_DETAILS})

TABLE_PREFIX = "humblytics_"
TRENDS_TABLE = "humblytics_traffic_trends"
TRAFFIC_BREAKDOWN_TABLE = "humblytics_traffic_breakdown"
CLICKS_BREAKDOWN_TABLE = "humblytics_clicks_breakdown"
CLICKS_DETAILS_TABLE = "humblytics_clicks_details"
FORMS_BREAKDOWN_TABLE = "humblytics_forms_breakdown"
FORMS_DETAILS_TABLE = "humblytics_forms_details"

# Requests in flight at once within one resource (days of a breakdown, pages of a day's details).
# Extraction is latency-bound (performance-notes.md); the document publishes no rate limit numbers
# ("limits will evolve with usage"), so a small fixed concurrency and the retried 429 are the guard.
DAY_WORKERS = 4
DETAIL_WORKERS = 4

KEY_HINT = "SOURCES__HUMBLYTICS__API_KEY"
PROPERTY_HINT = "SOURCES__HUMBLYTICS__PROPERTY_ID"

# The document publishes no rate numbers ("limits will evolve with usage"). A budget of our own, shared by
# every resource of the run; a 429 then pauses all of them through `RateLimiter.hold`, since the vendor
# counts the requests it refuses too. 100 a second: a first nightly of two months is ~770 requests, which at
# 50 a second was the whole run's long pole (15 s against 11 s for all four sources at 100 ms latency with
# 8 requests in flight, issue 19); later nights are ~60 requests.
RATE_LIMIT = (100, 1.0)
