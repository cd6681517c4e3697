"""Pure AttributionHub parsing: conversion keys, timestamps, percent strings, insights flattening.

Fixtures are the documents' own sample responses (attributionhub-conversions-api.txt, -insights-api.txt).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pendulum
import pytest

from sources.attributionhub.parse import (
    conversion_key,
    conversion_records,
    conversion_row,
    insight_row,
    key_conversions,
    parse_percent,
    parse_timestamp,
    timeline_bin,
    total_records,
    window_body,
)
from sources.common.errors import ResponseFormatError
from sources.common.windows import DateWindow

FIXTURES = Path(__file__).parent / "fixtures"
DAY = DateWindow(pendulum.date(2026, 11, 19), pendulum.date(2026, 11, 19))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "email": "ana@example.com",
        "timestamp": "2026-11-19 10:00:00",
        "conversion_page": "https://www.example.com/request-a-demo/",
        "previous_page": "https://www.example.com/pricing/",
        "conversion_meta": {"type": "html_form", "id": "request-a-demo-form"},
    }
    return {**base, **changes}


def keyed(*records: dict[str, Any]) -> list[dict[str, Any]]:
    return key_conversions(conversion_row(r) for r in records)


# --- conversions -----------------------------------------------------------------------------------------


def test_the_documents_sample_becomes_rows_with_the_vendors_names() -> None:
    rows = keyed(*conversion_records(fixture("conversions_document_sample.json")))
    assert rows[0] == {
        "email": "[email protected]",
        "timestamp": pendulum.datetime(2025, 3, 5, 15, 14, tz="UTC"),
        "conversion_page": "https://testdomain.com/thankyou",
        "previous_page": "https://testdomain.com/pricing",
        "conversion_meta__type": "html_form",
        "conversion_meta__id": "lead-capture-form-1",
        "date": pendulum.date(2025, 3, 5),
        "ordinal": 0,
        "conversion_key": rows[0]["conversion_key"],
    }
    assert rows[0]["timestamp"].utcoffset() == dt.timedelta(0)  # timezone-aware UTC
    assert rows[0]["conversion_key"] != rows[1]["conversion_key"]
    assert total_records(fixture("conversions_document_sample.json")) == 427


def test_the_no_results_body_is_an_empty_page() -> None:
    assert conversion_records({"message": "No conversions matched the given filters."}) == []
    assert total_records({"message": "No conversions matched the given filters."}) is None


@pytest.mark.parametrize("payload", [[], {"records": "nope"}, {"error": "x"}, None])
def test_a_body_that_is_neither_records_nor_the_message_is_an_error(payload: Any) -> None:
    with pytest.raises(ResponseFormatError, match="neither records nor the no-results message"):
        conversion_records(payload)


def test_identical_records_get_ordinals_and_distinct_keys() -> None:
    twin = record(email=None)
    rows = keyed(twin, record(), twin, twin)
    assert [r["ordinal"] for r in rows] == [0, 0, 1, 2]
    assert len({r["conversion_key"] for r in rows}) == 4


def test_keys_do_not_depend_on_page_order_or_reads() -> None:
    records = [record(), record(email=None), record(email=None), record(timestamp="2026-11-19 09:00:00")]
    first = {r["conversion_key"] for r in keyed(*records)}
    again = {r["conversion_key"] for r in keyed(*reversed(records))}
    assert first == again


def test_a_late_identical_copy_gets_the_next_ordinal_and_keeps_the_first_key() -> None:
    before = keyed(record(email=None))
    after = keyed(record(email=None), record(email=None))
    assert before[0]["conversion_key"] == after[0]["conversion_key"]
    assert after[1]["ordinal"] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"email": "ben@example.com"},
        {"email": None},
        {"timestamp": "2026-11-19 10:00:01"},
        {"conversion_page": "https://www.example.com/other/"},
        {"previous_page": None},
        {"conversion_meta": {"type": "hubspot_form", "id": "request-a-demo-form"}},
        {"conversion_meta": {"type": "html_form", "id": "other-form"}},
    ],
)
def test_every_field_is_part_of_the_key(change: dict[str, Any]) -> None:
    assert keyed(record())[0]["conversion_key"] != keyed(record(**change))[0]["conversion_key"]


def test_the_key_reads_the_instant_not_its_spelling() -> None:
    spaced = keyed(record(timestamp="2026-11-19 10:00:00"))[0]["conversion_key"]
    iso = keyed(record(timestamp="2026-11-19T10:00:00Z"))[0]["conversion_key"]
    offset = keyed(record(timestamp="2026-11-19T11:00:00+01:00"))[0]["conversion_key"]
    assert spaced == iso == offset


def test_the_key_is_a_fixed_function_of_the_fields() -> None:
    """Stored keys must survive releases: a change to the derivation would reload every conversion."""
    identity = ("a@b.c", "2026-11-19T10:00:00+00:00", "p", None, "html_form", "f")
    spelled = json.dumps([*identity, 1], separators=(",", ":")).encode()
    assert conversion_key(identity, 1) == hashlib.blake2b(spelled, digest_size=16).hexdigest()
    assert conversion_key(identity, 1) == "e03473fe8a8d83c4fa5f0bfc7db42e50"


def test_unknown_fields_and_nested_objects_are_kept_but_not_keyed_and_lists_are_not() -> None:
    plain = keyed(record())[0]
    extra = keyed(record(utmSource="google.com", nested={"x": 1}, tags=["a"]))[0]
    assert extra["utm_source"] == "google.com" and extra["nested"] == {"x": 1}  # dlt: `nested__x`
    assert "tags" not in extra
    assert extra["conversion_key"] == plain["conversion_key"]


@pytest.mark.parametrize("value", [None, "", "yesterday", 1700000000])
def test_a_record_without_a_readable_timestamp_is_an_error(value: Any) -> None:
    with pytest.raises(ResponseFormatError, match="timestamp"):
        parse_timestamp(value)


def test_window_body_is_whole_utc_days() -> None:
    window = DateWindow(pendulum.date(2026, 11, 13), pendulum.date(2026, 11, 19))
    assert window_body(window) == {"start_date": "2026-11-13T00:00:00Z", "end_date": "2026-11-19T23:59:59Z"}


# --- percent strings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("32.81%", 32.81), ("0.00%", 0.0), ("100%", 100.0), (" 7.5 % ", 7.5), (19.18, 19.18), (0, 0.0)],
)
def test_percent_strings_become_numbers(value: Any, expected: float) -> None:
    assert parse_percent(value) == expected


@pytest.mark.parametrize("value", [None, "", "n/a", "32.81", "%", True])
def test_what_is_not_a_percentage_is_null(value: Any) -> None:
    assert parse_percent(value) is None


# --- insights --------------------------------------------------------------------------------------------


def test_the_documents_insights_sample_flattens_into_one_row_and_channels() -> None:
    row = insight_row(fixture("insights_document_sample.json"), "all", DAY, "day")
    assert row is not None
    channels = row.pop("channels")
    assert row == {
        "segment": "all",
        "window_start": DAY.start,
        "window_end": DAY.end,
        "period": "day",
        "total_users": 1280,
        "total_converted_users": 420,
        "conversion_rate_pct": 32.81,
        "avg_sessions_per_user": 2.7,
        "avg_sessions_per_converted_user": 3.5,
        "total_sessions": 3470,
        "total_converting_sessions": 423,
        "total_drop_off_sessions": 1298,
        "avg_session_duration_seconds": 132.7,
        "avg_converting_session_duration": 142.3,
        "avg_drop_off_session_duration": 101.2,
        "median_converting_session_duration": 118.0,
        "median_drop_off_session_duration": 93.0,
        "avg_time_to_convert": 90231.3,
        "median_time_to_convert": 60800.0,
        "time_to_convert_0_1_days": 142,
        "time_to_convert_1_3_days": 102,
        "time_to_convert_3_7_days": 115,
        "time_to_convert_7_plus_days": 61,
        "time_to_convert_0_1_days_pct": 33.57,
        "time_to_convert_1_3_days_pct": 24.17,
        "time_to_convert_3_7_days_pct": 27.2,
        "time_to_convert_7_plus_days_pct": 14.44,
    }
    # whole numbers in average/median fields stay doubles: one type per column
    assert isinstance(row["median_converting_session_duration"], float)
    assert channels == [
        {
            "segment": "all",
            "window_start": DAY.start,
            "window_end": DAY.end,
            "channel": "organic/google.com",
            "total_sessions": 1293,
            "total_users": 991,
            "converting_users_first_touch": 320,
            "converting_users_assisting_touch": 78,
            "converting_users_converting_touch": 102,
            "converting_users_after_touch": 27,
            "session_influence_pct": 37.26,
            "conversion_influence_pct": 45.23,
            "attributed_to_conversion": 190,
            "conversion_rate_pct": 19.18,
        }
    ]


def test_the_no_data_body_stores_nothing() -> None:
    assert insight_row({"message": "No page data found for the given parameters."}, "all", DAY, "day") is None


def test_an_unexpected_insights_body_is_an_error() -> None:
    with pytest.raises(ResponseFormatError, match="'all' 2026-11-19"):
        insight_row({"overall": {}}, "all", DAY, "day")


def test_a_name_two_summaries_share_keeps_both() -> None:
    payload = {"overall_metrics": {"user_summary": {"total_sessions": 5}, "session_summary": {"total_sessions": 7}}}
    row = insight_row(payload, "all", DAY, "day")
    assert row is not None
    assert (row["total_sessions"], row["session_summary__total_sessions"]) == (5, 7)
    assert row["channels"] == []


def test_an_unlisted_percent_string_is_a_pct_column_too() -> None:
    payload = {"overall_metrics": {"user_summary": {"bounce_share": "12.50%", "label": "x"}}}
    row = insight_row(payload, "all", DAY, "month")
    assert row is not None and row["bounce_share_pct"] == 12.5 and row["label"] == "x"


@pytest.mark.parametrize(
    ("label", "column"),
    [("0-1 days", "0_1_days"), ("1-3 days", "1_3_days"), ("7+ days", "7_plus_days"), ("30+ Days", "30_plus_days")],
)
def test_timeline_bins_are_column_names(label: str, column: str) -> None:
    assert timeline_bin(label) == column
