-- reporting.daily_traffic: one row per day, each source system's traffic side by side.
--
-- date                         the day
-- hubspot_visits               HubSpot Analytics `totals`: sessions
-- hubspot_visitors             HubSpot Analytics `totals`: visitors
-- hubspot_raw_views            HubSpot Analytics `totals`: page views
-- humblytics_pageviews         Humblytics traffic/trends: page views
-- humblytics_unique_visitors   Humblytics traffic/trends: unique visitors
-- leads_created                HubSpot Leads inserted that day (UTC), deleted leads excluded
-- conversions                  AttributionHub conversions whose session started that day (UTC)
--
-- NULL means "not loaded": a source has numbers only from its first through its last loaded day, and 0
-- on a day inside that range with nothing in it. HubSpot analytics days are the portal's
-- (SOURCES__HUBSPOT__TIMEZONE), Humblytics days the property's (SOURCES__HUMBLYTICS__TIMEZONE).
WITH hubspot AS (
    SELECT
        date,
        CAST(SUM(visits) AS BIGINT) AS visits,
        CAST(SUM(visitors) AS BIGINT) AS visitors,
        CAST(SUM(raw_views) AS BIGINT) AS raw_views
    FROM marketing.hubspot_analytics_totals
    WHERE d1 = '' AND d2 = ''
    GROUP BY date
),
humblytics AS (
    SELECT
        date,
        CAST(SUM(pageviews) AS BIGINT) AS pageviews,
        CAST(SUM(unique_visitors) AS BIGINT) AS unique_visitors
    FROM marketing.humblytics_traffic_trends
    GROUP BY date
),
leads AS (
    SELECT CAST(inserted_at AT TIME ZONE 'UTC' AS DATE) AS date, COUNT(*) AS leads_created
    FROM marketing.hubspot_leads
    WHERE NOT COALESCE(is_deleted, FALSE)
    GROUP BY CAST(inserted_at AT TIME ZONE 'UTC' AS DATE)
),
conversions AS (
    SELECT date, COUNT(*) AS conversions
    FROM marketing.attributionhub_conversions
    GROUP BY date
),
-- The days each source has loaded. Leads: the nightly loads every lead modified since its start, and a
-- lead is modified no earlier than it is inserted, so insertion days from the earliest modification on
-- are complete.
covered AS (
    SELECT
        (SELECT MIN(date) FROM hubspot) AS hubspot_first,
        (SELECT MAX(date) FROM hubspot) AS hubspot_last,
        (SELECT MIN(date) FROM humblytics) AS humblytics_first,
        (SELECT MAX(date) FROM humblytics) AS humblytics_last,
        (SELECT MIN(CAST(last_modified_at AT TIME ZONE 'UTC' AS DATE)) FROM marketing.hubspot_leads) AS leads_first,
        (SELECT MAX(date) FROM leads) AS leads_last,
        (SELECT MIN(date) FROM conversions) AS conversions_first,
        (SELECT MAX(date) FROM conversions) AS conversions_last
),
bounds AS (
    SELECT MIN(first_day) AS first_day, MAX(last_day) AS last_day
    FROM (
        SELECT hubspot_first AS first_day, hubspot_last AS last_day FROM covered
        UNION ALL
        SELECT humblytics_first, humblytics_last FROM covered
        UNION ALL
        SELECT leads_first, leads_last FROM covered
        UNION ALL
        SELECT conversions_first, conversions_last FROM covered
    ) AS ranges
),
days AS (
    SELECT day AS date
    FROM UNNEST(GENERATE_DATE_ARRAY(
        (SELECT first_day FROM bounds), (SELECT last_day FROM bounds), INTERVAL 1 DAY
    )) AS spine(day)
)
SELECT
    d.date,
    CASE WHEN d.date BETWEEN c.hubspot_first AND c.hubspot_last THEN COALESCE(h.visits, 0) END AS hubspot_visits,
    CASE WHEN d.date BETWEEN c.hubspot_first AND c.hubspot_last THEN COALESCE(h.visitors, 0) END AS hubspot_visitors,
    CASE WHEN d.date BETWEEN c.hubspot_first AND c.hubspot_last THEN COALESCE(h.raw_views, 0) END AS hubspot_raw_views,
    CASE
        WHEN d.date BETWEEN c.humblytics_first AND c.humblytics_last THEN COALESCE(u.pageviews, 0)
    END AS humblytics_pageviews,
    CASE
        WHEN d.date BETWEEN c.humblytics_first AND c.humblytics_last THEN COALESCE(u.unique_visitors, 0)
    END AS humblytics_unique_visitors,
    CASE WHEN d.date BETWEEN c.leads_first AND c.leads_last THEN COALESCE(l.leads_created, 0) END AS leads_created,
    CASE
        WHEN d.date BETWEEN c.conversions_first AND c.conversions_last THEN COALESCE(v.conversions, 0)
    END AS conversions
FROM days AS d
CROSS JOIN covered AS c
LEFT JOIN hubspot AS h ON h.date = d.date
LEFT JOIN humblytics AS u ON u.date = d.date
LEFT JOIN leads AS l ON l.date = d.date
LEFT JOIN conversions AS v ON v.date = d.date
