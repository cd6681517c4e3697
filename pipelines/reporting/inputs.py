"""The warehouse tables the views read, the columns they use and their types.

Declared, not discovered, for two reasons: a source that never ran (or a column a vendor never sent) must
not break the views, so `render` stands in a typed, empty relation (or typed NULL columns) for what is
absent; and the BigQuery offline check needs the types. `tests/reporting/test_sql.py` checks that every
column a view reads is declared here, so this list cannot drift from the SQL.

Types are written in the source dialect (DuckDB) and transpiled with the views.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT, BIGINT, DOUBLE, DATE, TIMESTAMPTZ, BOOLEAN = "TEXT", "BIGINT", "DOUBLE", "DATE", "TIMESTAMPTZ", "BOOLEAN"


@dataclass(frozen=True)
class Input:
    """A table of the `marketing` dataset: the source that loads it and the columns the views read."""

    source: str  # the dlt source (schema) name, or "dlt" for dlt's own tables
    columns: dict[str, str]


_ANALYTICS = {"date": DATE, "d1": TEXT, "d2": TEXT, "breakdown": TEXT}

INPUTS: dict[str, Input] = {
    "hubspot_analytics_totals": Input(
        "hubspot_analytics", {**_ANALYTICS, "visits": BIGINT, "visitors": BIGINT, "raw_views": BIGINT}
    ),
    "hubspot_analytics_sources": Input(
        "hubspot_analytics", {**_ANALYTICS, "visits": BIGINT, "visitors": BIGINT, "contacts": BIGINT}
    ),
    "hubspot_leads": Input(
        "hubspot_leads",
        {
            "guid": TEXT,
            "email": TEXT,
            "first_name": TEXT,
            "last_name": TEXT,
            "company": TEXT,
            "crm_details__status": TEXT,
            "is_customer": BOOLEAN,
            "is_deleted": BOOLEAN,
            "inserted_at": TIMESTAMPTZ,
            "last_modified_at": TIMESTAMPTZ,
            "closed_at": TIMESTAMPTZ,
        },
    ),
    "hubspot_leads__lead_conversion_events": Input(
        "hubspot_leads",
        {
            "lead_guid": TEXT,
            "guid": TEXT,
            "convert_date": TIMESTAMPTZ,
            "page_url": TEXT,
            "form_guid": TEXT,
            "form_name": TEXT,
            "_tombstone": BOOLEAN,
        },
    ),
    "attributionhub_conversions": Input(
        "attributionhub",
        {
            "conversion_key": TEXT,
            "date": DATE,
            "timestamp": TIMESTAMPTZ,
            "email": TEXT,
            "conversion_page": TEXT,
            "previous_page": TEXT,
            "conversion_meta__type": TEXT,
            "conversion_meta__id": TEXT,
        },
    ),
    "attributionhub_insights__channels": Input(
        "attributionhub",
        {
            "segment": TEXT,
            "window_start": DATE,
            "window_end": DATE,
            "channel": TEXT,
            "total_sessions": BIGINT,
            "attributed_to_conversion": BIGINT,
        },
    ),
    "humblytics_traffic_trends": Input("humblytics", {"date": DATE, "pageviews": BIGINT, "unique_visitors": BIGINT}),
    "humblytics_traffic_breakdown": Input(
        "humblytics",
        {"date": DATE, "dimension": TEXT, "utm_source": TEXT, "utm_medium": TEXT, "sessions": BIGINT},
    ),
    "_dlt_loads": Input("dlt", {"schema_name": TEXT, "status": BIGINT, "inserted_at": TIMESTAMPTZ}),
}

# Tables the refresh itself creates in the reporting schema (always present when the views are created).
CHANNEL_MAP_COLUMNS = {"source_system": TEXT, "medium": TEXT, "source": TEXT, "channel": TEXT}
