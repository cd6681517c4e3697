-- reporting.source_freshness: one row per source, how far its data reaches and when it last loaded.
--
-- source           hubspot_analytics | hubspot_leads | attributionhub | humblytics
-- last_loaded_at   the last load dlt completed for the source (NULL: never loaded here)
-- first_day        the first day of data (the table below; NULL when nothing was loaded)
-- last_day         the last day of data
-- days_behind      days from last_day to today (UTC, the warehouse's clock); 1 = loaded through yesterday
-- rows_loaded      rows of that table
--
-- Days come from one table per source: HubSpot `totals`, Leads `last_modified_at`, AttributionHub
-- conversions, Humblytics traffic/trends.
WITH loads AS (
    SELECT schema_name AS source, MAX(inserted_at) AS last_loaded_at
    FROM marketing._dlt_loads
    WHERE status = 0
    GROUP BY schema_name
),
data AS (
    SELECT 'hubspot_analytics' AS source, MIN(date) AS first_day, MAX(date) AS last_day, COUNT(*) AS rows_loaded
    FROM marketing.hubspot_analytics_totals
    UNION ALL
    SELECT
        'hubspot_leads' AS source,
        MIN(CAST(last_modified_at AT TIME ZONE 'UTC' AS DATE)) AS first_day,
        MAX(CAST(last_modified_at AT TIME ZONE 'UTC' AS DATE)) AS last_day,
        COUNT(*) AS rows_loaded
    FROM marketing.hubspot_leads
    UNION ALL
    SELECT 'attributionhub' AS source, MIN(date) AS first_day, MAX(date) AS last_day, COUNT(*) AS rows_loaded
    FROM marketing.attributionhub_conversions
    UNION ALL
    SELECT 'humblytics' AS source, MIN(date) AS first_day, MAX(date) AS last_day, COUNT(*) AS rows_loaded
    FROM marketing.humblytics_traffic_trends
)
SELECT
    d.source,
    l.last_loaded_at,
    d.first_day,
    d.last_day,
    DATE_DIFF('day', d.last_day, CAST(CURRENT_TIMESTAMP AT TIME ZONE 'UTC' AS DATE)) AS days_behind,
    d.rows_loaded
FROM data AS d
LEFT JOIN loads AS l ON l.source = d.source
