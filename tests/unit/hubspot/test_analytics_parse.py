"""Pure parsing of HubSpot Analytics payloads (shapes from hubspot-analytics-api.txt)."""

from __future__ import annotations

import pendulum
import pytest

from sources.common.errors import ConfigError
from sources.hubspot import settings
from sources.hubspot.analytics_parse import (
    KNOWN_REPORTS,
    Drill,
    breakdown_values,
    column_hints,
    parse_daily,
    parse_row,
    snake_case,
    table_name,
    total_breakdowns,
    validate_reports,
    yyyymmdd,
)

# The daily example of hubspot-analytics-api.txt, trimmed.
DAILY_EXAMPLE = {
    "2018-01-02": [
        {
            "rawViews": 105,
            "visits": 55,
            "submissions": 16,
            "opportunities": 4,
            "pageviewsPerSession": 1.9090909090909092,
            "newVisitorSessionRate": 0.43636363636363634,
        }
    ],
    "2018-01-01": [{"rawViews": 5, "visits": 7, "sessionToContactRate": 1.7142857142857142}],
}

# The `total` example of hubspot-analytics-api.txt, trimmed.
TOTAL_EXAMPLE = {
    "offset": 3,
    "total": 3,
    "totals": {"rawViews": 10709, "visits": 4430},
    "breakdowns": [
        {"breakdown": "direct", "rawViews": 8142},
        {"breakdown": "paid", "rawViews": 1000},
        {"breakdown": "organic", "rawViews": 26},
    ],
}


@pytest.mark.parametrize(
    ("camel", "snake"),
    [
        ("rawViews", "raw_views"),
        ("visits", "visits"),
        ("pageviewsPerSession", "pageviews_per_session"),
        ("marketingQualifiedLeads", "marketing_qualified_leads"),
        ("contactToCustomerRate", "contact_to_customer_rate"),
        ("ctaViews", "cta_views"),
        ("HTMLViews", "html_views"),
        ("already_snake", "already_snake"),
    ],
)
def test_snake_case(camel: str, snake: str) -> None:
    assert snake_case(camel) == snake


def test_parse_daily_document_example() -> None:
    rows = parse_daily(DAILY_EXAMPLE)
    assert [r["date"] for r in rows] == [pendulum.date(2018, 1, 1), pendulum.date(2018, 1, 2)]
    assert rows[0] == {
        "date": pendulum.date(2018, 1, 1),
        "d1": "",
        "d2": "",
        "breakdown": "",
        "raw_views": 5,
        "visits": 7,
        "session_to_contact_rate": 1.7142857142857142,
    }
    assert rows[1]["opportunities"] == 4
    assert "leads" not in rows[1]  # missing metrics stay absent


def test_parse_daily_breakdowns_and_drill() -> None:
    payload = {"2026-11-10": [{"breakdown": "google", "visits": 3}, {"breakdown": "bing", "visits": 1}]}
    rows = parse_daily(payload, Drill(d1="organic", d2="shoes"))
    assert [(r["d1"], r["d2"], r["breakdown"]) for r in rows] == [
        ("organic", "shoes", "google"),
        ("organic", "shoes", "bing"),
    ]


def test_parse_daily_ratios_are_floats_even_when_integral() -> None:
    rows = parse_daily({"2026-11-10": [{"bounceRate": 1, "visits": 2, "timePerSession": 0}]})
    assert isinstance(rows[0]["bounce_rate"], float)
    assert isinstance(rows[0]["time_per_session"], float)
    assert isinstance(rows[0]["visits"], int)


@pytest.mark.parametrize(
    "payload",
    [None, [], "oops", 42, {"offset": 3}, {"2026-11-10": None}, {"2026-11-10": {"visits": 1}}],
)
def test_parse_daily_tolerates_unknown_shapes(payload: object) -> None:
    assert parse_daily(payload) == []


def test_parse_daily_skips_non_days_bad_rows_lists_and_nulls_and_keeps_nested_objects() -> None:
    payload = {
        "totals": [{"visits": 99}],
        "2026-02-30": [{"visits": 1}],  # impossible day
        "2026-11-10": [
            "not a row",
            {"visits": 2, "leads": None, "extra": {"nested": 1}, "list": [1], "title": "Home"},
        ],
    }
    assert parse_daily(payload) == [
        {
            "date": pendulum.date(2026, 11, 10),
            "d1": "",
            "d2": "",
            "breakdown": "",
            "visits": 2,
            "extra": {"nested": 1},  # dlt flattens it into `extra__nested`
            "title": "Home",
        }
    ]


def test_parse_row_never_overwrites_key_columns() -> None:
    row = parse_row({"breakdown": 7, "date": "x", "d1": "y", "_loaded_at": 1, "visits": 1})
    assert row == {"breakdown": "7", "visits": 1}


def test_total_breakdowns_and_values() -> None:
    assert breakdown_values(total_breakdowns(TOTAL_EXAMPLE)) == ["direct", "paid", "organic"]
    assert total_breakdowns({"breakdowns": None}) == []
    assert total_breakdowns([]) == []
    assert breakdown_values([{"breakdown": "a"}, {"breakdown": ""}, {"x": 1}, {"breakdown": "a"}]) == ["a"]


def test_validate_reports_accepts_defaults_and_every_family() -> None:
    assert validate_reports(settings.DEFAULT_REPORTS) == settings.DEFAULT_REPORTS
    assert set(validate_reports(sorted(KNOWN_REPORTS))) == KNOWN_REPORTS
    assert validate_reports("totals, sources") == ["totals", "sources"]
    assert validate_reports(["totals", "totals"]) == ["totals"]


@pytest.mark.parametrize("reports", [["totals", "souces"], ["pageviews"], []])
def test_validate_reports_refuses_unknown_or_empty(reports: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        validate_reports(reports)
    if reports:
        assert reports[-1] in str(err.value)


def test_names_and_dates() -> None:
    assert table_name("utm-campaigns") == "hubspot_analytics_utm_campaigns"
    assert table_name("totals") == "hubspot_analytics_totals"
    assert yyyymmdd(pendulum.date(2026, 1, 5)) == "20260105"
    assert Drill().params() == {}
    assert Drill("organic", "kw").params() == {"d1": "organic", "d2": "kw"}


def test_column_hints_types() -> None:
    hints = column_hints()
    assert hints["date"]["data_type"] == "date"
    assert hints["bounce_rate"]["data_type"] == "double"
    assert hints["raw_views"]["data_type"] == "bigint"
    assert hints["_loaded_at"]["timezone"] is True
