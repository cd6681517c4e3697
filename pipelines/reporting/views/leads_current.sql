-- reporting.leads_current: one row per live HubSpot lead (deleted leads excluded), with its conversions.
--
-- lead_guid, email, first_name, last_name, company, crm_status, is_customer, inserted_at,
-- last_modified_at, closed_at      the lead as HubSpot last sent it
-- hubspot_conversions              the lead's HubSpot conversion events
-- attributionhub_conversions       AttributionHub conversions with the lead's email (case-insensitive)
-- conversions                      both together
-- first_conversion_at              the earliest conversion of either system (NULL: never converted)
-- last_conversion_at               the latest
WITH events AS (
    SELECT lead_guid, COUNT(*) AS conversions, MIN(convert_date) AS first_at, MAX(convert_date) AS last_at
    FROM marketing.hubspot_leads__lead_conversion_events
    WHERE NOT COALESCE(_tombstone, FALSE)
    GROUP BY lead_guid
),
attributed AS (
    SELECT LOWER(email) AS email, COUNT(*) AS conversions, MIN(timestamp) AS first_at, MAX(timestamp) AS last_at
    FROM marketing.attributionhub_conversions
    WHERE email IS NOT NULL
    GROUP BY LOWER(email)
)
SELECT
    l.guid AS lead_guid,
    l.email,
    l.first_name,
    l.last_name,
    l.company,
    l.crm_details__status AS crm_status,
    l.is_customer,
    l.inserted_at,
    l.last_modified_at,
    l.closed_at,
    COALESCE(e.conversions, 0) AS hubspot_conversions,
    COALESCE(a.conversions, 0) AS attributionhub_conversions,
    COALESCE(e.conversions, 0) + COALESCE(a.conversions, 0) AS conversions,
    -- not LEAST/GREATEST: BigQuery's return NULL when any argument is NULL
    CASE WHEN a.first_at IS NULL OR e.first_at <= a.first_at THEN e.first_at ELSE a.first_at END
        AS first_conversion_at,
    CASE WHEN a.last_at IS NULL OR e.last_at >= a.last_at THEN e.last_at ELSE a.last_at END AS last_conversion_at
FROM marketing.hubspot_leads AS l
LEFT JOIN events AS e ON e.lead_guid = l.guid
LEFT JOIN attributed AS a ON a.email = LOWER(l.email)
WHERE NOT COALESCE(l.is_deleted, FALSE)
