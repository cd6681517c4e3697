-- reporting.channel_values: every (source system, medium, source) seen in reporting.traffic_sources_daily,
-- the channel the rules of reporting.channel_map give it, and whether a rule matched at all.
--
-- source_system, medium, source   as in reporting.traffic_sources_daily
-- channel                         one of the channel vocabulary; 'other' when no rule matched
-- mapped                          false when no rule matched (`marketing-elt status` lists these)
-- first_day, last_day             the first and last day the value was seen
--
-- Rules (pipelines/reporting/channel_map.csv, reseeded on every refresh) may use '*' for any value; the
-- most specific matching rule wins: an exact source first, then an exact medium, then an exact system.
WITH seen AS (
    SELECT source_system, medium, source, MIN(date) AS first_day, MAX(date) AS last_day
    FROM reporting.traffic_sources_daily
    GROUP BY source_system, medium, source
),
ranked AS (
    SELECT
        s.source_system,
        s.medium,
        s.source,
        s.first_day,
        s.last_day,
        m.channel,
        ROW_NUMBER() OVER (
            PARTITION BY s.source_system, s.medium, s.source
            ORDER BY
                CASE WHEN m.source = '*' THEN 0 ELSE 4 END
                + CASE WHEN m.medium = '*' THEN 0 ELSE 2 END
                + CASE WHEN m.source_system = '*' THEN 0 ELSE 1 END DESC
        ) AS preference
    FROM seen AS s
    LEFT JOIN reporting.channel_map AS m
        ON m.source_system IN (s.source_system, '*')
        AND m.medium IN (s.medium, '*')
        AND m.source IN (s.source, '*')
)
SELECT
    source_system,
    medium,
    source,
    COALESCE(channel, 'other') AS channel,
    channel IS NOT NULL AS mapped,
    first_day,
    last_day
FROM ranked
WHERE preference = 1
