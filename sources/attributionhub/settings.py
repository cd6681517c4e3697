"""AttributionHub constants. Each vendor quirk names the document that states it."""

VENDOR = "attributionhub"  # the vendor key in request statistics
SOURCE = "attributionhub"  # the dlt source name: runs report failures under it
SECTION = "attributionhub"  # `[sources.attributionhub]`, env `SOURCES__ATTRIBUTIONHUB__*`

CONVERSIONS_PATH = "/api/v1/conversions"  # attributionhub-conversions-api.txt
INSIGHTS_PATH = "/api/v1/insights"  # attributionhub-insights-api.txt
AUTH_HEADER = "Authentication"  # facts.md: literally `Authentication: <key>`, not `Authorization`

CONVERSIONS_TABLE = "attributionhub_conversions"
INSIGHTS_TABLE = "attributionhub_insights"
CHANNELS_FIELD = "channels"  # insights document: `overall_metrics.channels`, a list → the child table
CHANNELS_TABLE = f"{INSIGHTS_TABLE}__{CHANNELS_FIELD}"  # dlt names the nested table so

# Days back from today the first nightly starts when `start_date` is not configured.
DEFAULT_START_DAYS_AGO = 30
# Conversions appear days after they happen (facts.md, the sandbox: up to 2 days), and insights numbers move
# with them: the nightly re-reads this many days before the last loaded one.
DEFAULT_LOOKBACK_DAYS = 3
DEFAULT_SEGMENT = "all"

# "Each page can contain up to 50 records" (conversions document).
PAGE_SIZE = 50
# Days per /conversions request window for settled days (older than the lookback; recent days go one per
# request: conversions.plan_conversion_windows). Measured on the sandbox's default world (about 13
# conversions a day), a year costs 365 requests with 1-day windows, 130 with 3, 113 with 7, 105 with 14, 99
# with 31. Seven days keeps nearly all of the saving while a window stopped by the quota loses at most a
# week of pages (README, "Request cost").
CONVERSION_WINDOW_DAYS = 7
# Requests in flight at once (windows, snapshots): extraction is latency-bound (performance-notes.md);
# the vendor documents no rate limit, only the monthly quota.
WORKERS = 4

# Filters both documents list. Session-level ones switch /conversions to the session-filtered paging mode
# (conversions document, "With Session Filters"); conversion-level ones do not.
SESSION_FILTERS = ("source", "medium", "campaign", "content", "term", "landing_page")
CONVERSION_FILTERS = ("conversion_page", "meta_type", "meta_id")
TOUCH_SCOPE = "touch_scope"  # insights only
TOUCH_SCOPES = ("any", "first", "converting", "assist", "after")  # insights document, touch_scope enum

# facts.md: the monthly quota answers 429 with this `error` and the `limit`/`used` counts.
QUOTA_ERROR = "API monthly limit exceeded."
