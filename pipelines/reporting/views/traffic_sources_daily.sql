-- reporting.traffic_sources_daily: one row per (day, source system, medium, source) as each vendor names
-- its traffic, before the channel map; reporting.channel_daily is this, mapped to channels.
--
-- date             the day
-- source_system    hubspot | humblytics | attributionhub
-- medium, source   lower case. HubSpot: the `sources` report's source type (organic, paid, ...) and ''.
--                  Humblytics: the UTM medium and source ('unknown' when untagged).
--                  AttributionHub: the channel's medium/source ('organic/google.com' -> organic, google.com).
-- sessions         HubSpot: visits. Humblytics: sessions. AttributionHub: sessions of the day's visitors'
--                  whole journeys (insights are cohort numbers, so they do not add up across days).
-- contacts         HubSpot: new contacts; NULL for the others
-- converted_users  AttributionHub: converted users who touched this channel up to their conversion
--                  (`attributed_to_conversion` of the day's insights, segment `all`); NULL for the others
WITH hubspot AS (
    SELECT
        date,
        'hubspot' AS source_system,
        LOWER(breakdown) AS medium,
        '' AS source,
        CAST(SUM(visits) AS BIGINT) AS sessions,
        CAST(SUM(contacts) AS BIGINT) AS contacts,
        CAST(NULL AS BIGINT) AS converted_users
    FROM marketing.hubspot_analytics_sources
    WHERE d1 = '' AND d2 = ''
    GROUP BY date, LOWER(breakdown)
),
humblytics AS (
    SELECT
        date,
        'humblytics' AS source_system,
        LOWER(utm_medium) AS medium,
        LOWER(utm_source) AS source,
        CAST(SUM(sessions) AS BIGINT) AS sessions,
        CAST(NULL AS BIGINT) AS contacts,
        CAST(NULL AS BIGINT) AS converted_users
    FROM marketing.humblytics_traffic_breakdown
    WHERE dimension = 'utm'
    GROUP BY date, LOWER(utm_medium), LOWER(utm_source)
),
attributionhub_channels AS (
    SELECT
        window_start AS date,
        LOWER(
            CASE WHEN STRPOS(channel, '/') > 0 THEN SUBSTRING(channel, 1, STRPOS(channel, '/') - 1) ELSE '' END
        ) AS medium,
        LOWER(SUBSTRING(channel, STRPOS(channel, '/') + 1)) AS source,
        total_sessions,
        attributed_to_conversion
    FROM marketing.attributionhub_insights__channels
    -- day snapshots of the unfiltered cohort (the source's default segment); months span more than a day
    WHERE segment = 'all' AND window_start = window_end
),
attributionhub AS (
    SELECT
        date,
        'attributionhub' AS source_system,
        medium,
        source,
        CAST(SUM(total_sessions) AS BIGINT) AS sessions,
        CAST(NULL AS BIGINT) AS contacts,
        CAST(SUM(attributed_to_conversion) AS BIGINT) AS converted_users
    FROM attributionhub_channels
    GROUP BY date, medium, source
)
SELECT * FROM hubspot
UNION ALL
SELECT * FROM humblytics
UNION ALL
SELECT * FROM attributionhub
