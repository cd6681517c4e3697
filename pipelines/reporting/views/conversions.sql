-- reporting.conversions: every conversion of both systems that record them, in one shape.
--
-- source_system      attributionhub | hubspot_leads
-- conversion_id      AttributionHub: the derived conversion_key; HubSpot: the conversion event's guid
-- converted_at       AttributionHub: when the converting session started (its records carry no other time);
--                    HubSpot: the event's convertDate
-- date               the UTC day of converted_at
-- email              who converted: AttributionHub's captured email (may be NULL), the HubSpot lead's email
-- lead_guid          the HubSpot lead (NULL for AttributionHub)
-- page_url           the page the conversion happened on
-- previous_page_url  AttributionHub: the page before it (NULL for HubSpot)
-- conversion_type    AttributionHub's meta type (hubspot_form, html_form, custom_event); 'hubspot_form' for HubSpot
-- form_or_event_id   AttributionHub's meta id; HubSpot: the form's guid
-- form_name          HubSpot: the form's name (NULL for AttributionHub)
--
-- HubSpot events of deleted leads are left out, as reporting.leads_current leaves the leads out.
SELECT
    'attributionhub' AS source_system,
    c.conversion_key AS conversion_id,
    c.timestamp AS converted_at,
    c.date AS date,
    c.email AS email,
    CAST(NULL AS TEXT) AS lead_guid,
    c.conversion_page AS page_url,
    c.previous_page AS previous_page_url,
    c.conversion_meta__type AS conversion_type,
    c.conversion_meta__id AS form_or_event_id,
    CAST(NULL AS TEXT) AS form_name
FROM marketing.attributionhub_conversions AS c
UNION ALL
SELECT
    'hubspot_leads' AS source_system,
    e.guid AS conversion_id,
    e.convert_date AS converted_at,
    CAST(e.convert_date AT TIME ZONE 'UTC' AS DATE) AS date,
    l.email AS email,
    e.lead_guid AS lead_guid,
    e.page_url AS page_url,
    CAST(NULL AS TEXT) AS previous_page_url,
    'hubspot_form' AS conversion_type,
    e.form_guid AS form_or_event_id,
    e.form_name AS form_name
FROM marketing.hubspot_leads__lead_conversion_events AS e
INNER JOIN marketing.hubspot_leads AS l ON l.guid = e.lead_guid
WHERE NOT COALESCE(l.is_deleted, FALSE) AND NOT COALESCE(e._tombstone, FALSE)
