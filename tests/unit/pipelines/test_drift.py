"""The run summary's variant-column note: which columns dlt created for values of another type."""

from __future__ import annotations

from pipelines.drift import variant_columns


def test_variant_columns_are_found_in_every_updated_table_and_only_those() -> None:
    updates = [
        {
            "hubspot_leads": {
                "columns": {
                    "lead_id__v_text": {"name": "lead_id__v_text", "data_type": "text", "variant": True},
                    "lead_segment": {"name": "lead_segment", "data_type": "text"},
                }
            },
            "hubspot_leads__lead_conversion_events": {"columns": {}},
        },
        {"hubspot_analytics_totals": {"columns": {"visits__v_text": {"data_type": "text", "variant": True}}}},
        {"no_columns": {}},
    ]
    assert variant_columns(updates) == {
        ("hubspot_leads", "lead_id__v_text"),
        ("hubspot_analytics_totals", "visits__v_text"),
    }


def test_no_updates_no_variants() -> None:
    assert variant_columns([]) == set()
