-- reporting.channel_daily: one row per (day, channel), every channel of the map on every day, each source
-- system's traffic mapped to one channel vocabulary (organic search, paid search, paid social, organic
-- social, email, referral, direct, other) by reporting.channel_values.
--
-- date, channel
-- hubspot_visits                   HubSpot `sources` report: visits
-- hubspot_contacts                 HubSpot `sources` report: new contacts
-- humblytics_sessions              Humblytics traffic/breakdown UTM rows: sessions
-- attributionhub_sessions          AttributionHub insights (segment `all`): sessions of the day's visitors'
--                                  journeys in this channel (cohort numbers: they do not add up across days)
-- attributionhub_converted_users   AttributionHub insights: converted users who touched this channel
--
-- NULL means "not loaded" (outside the source's first..last loaded day), 0 means "loaded, nothing".
WITH channels AS (
    SELECT DISTINCT channel FROM reporting.channel_map
    UNION
    SELECT 'other' AS channel
),
mapped AS (
    SELECT t.date, t.source_system, v.channel, t.sessions, t.contacts, t.converted_users
    FROM reporting.traffic_sources_daily AS t
    INNER JOIN reporting.channel_values AS v
        ON v.source_system = t.source_system AND v.medium = t.medium AND v.source = t.source
),
by_channel AS (
    SELECT
        date,
        channel,
        CAST(SUM(CASE WHEN source_system = 'hubspot' THEN sessions END) AS BIGINT) AS hubspot_visits,
        CAST(SUM(CASE WHEN source_system = 'hubspot' THEN contacts END) AS BIGINT) AS hubspot_contacts,
        CAST(SUM(CASE WHEN source_system = 'humblytics' THEN sessions END) AS BIGINT) AS humblytics_sessions,
        CAST(SUM(CASE WHEN source_system = 'attributionhub' THEN sessions END) AS BIGINT) AS attributionhub_sessions,
        CAST(
            SUM(CASE WHEN source_system = 'attributionhub' THEN converted_users END) AS BIGINT
        ) AS attributionhub_converted_users
    FROM mapped
    GROUP BY date, channel
),
covered AS (
    SELECT
        MIN(CASE WHEN source_system = 'hubspot' THEN date END) AS hubspot_first,
        MAX(CASE WHEN source_system = 'hubspot' THEN date END) AS hubspot_last,
        MIN(CASE WHEN source_system = 'humblytics' THEN date END) AS humblytics_first,
        MAX(CASE WHEN source_system = 'humblytics' THEN date END) AS humblytics_last,
        MIN(CASE WHEN source_system = 'attributionhub' THEN date END) AS attributionhub_first,
        MAX(CASE WHEN source_system = 'attributionhub' THEN date END) AS attributionhub_last,
        MIN(date) AS first_day,
        MAX(date) AS last_day
    FROM reporting.traffic_sources_daily
),
days AS (
    SELECT day AS date
    FROM UNNEST(GENERATE_DATE_ARRAY(
        (SELECT first_day FROM covered), (SELECT last_day FROM covered), INTERVAL 1 DAY
    )) AS spine(day)
)
SELECT
    d.date,
    ch.channel,
    CASE
        WHEN d.date BETWEEN c.hubspot_first AND c.hubspot_last THEN COALESCE(b.hubspot_visits, 0)
    END AS hubspot_visits,
    CASE
        WHEN d.date BETWEEN c.hubspot_first AND c.hubspot_last THEN COALESCE(b.hubspot_contacts, 0)
    END AS hubspot_contacts,
    CASE
        WHEN d.date BETWEEN c.humblytics_first AND c.humblytics_last THEN COALESCE(b.humblytics_sessions, 0)
    END AS humblytics_sessions,
    CASE
        WHEN d.date BETWEEN c.attributionhub_first AND c.attributionhub_last
            THEN COALESCE(b.attributionhub_sessions, 0)
    END AS attributionhub_sessions,
    CASE
        WHEN d.date BETWEEN c.attributionhub_first AND c.attributionhub_last
            THEN COALESCE(b.attributionhub_converted_users, 0)
    END AS attributionhub_converted_users
FROM days AS d
CROSS JOIN channels AS ch
CROSS JOIN covered AS c
LEFT JOIN by_channel AS b ON b.date = d.date AND b.channel = ch.channel
