"""The assumed response shapes (facts.md), parsed tolerantly (sources/humblytics/parse.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from sources.humblytics.parse import (
    CLICKS,
    FORMS,
    count,
    pages_of,
    parse_details,
    parse_instant,
    parse_meta,
    parse_page_breakdown,
    parse_traffic_breakdown,
    parse_trends,
    ratio,
)


def test_meta_of_the_published_sample() -> None:
    meta = parse_meta(
        {
            "meta": {
                "property_id": "p",
                "start": "2024-05-01T04:00:00.000Z",
                "end": "2024-05-07T03:59:59.000Z",
                "timezone": "America/New_York",
                "granularity": "day",
                "bucket_count": 7,
            }
        }
    )
    assert meta.start == dt.datetime(2024, 5, 1, 4, tzinfo=dt.UTC)
    assert meta.end == dt.datetime(2024, 5, 7, 3, 59, 59, tzinfo=dt.UTC)
    assert (meta.property_id, meta.timezone, meta.granularity, meta.bucket_count) == (
        "p",
        "America/New_York",
        "day",
        7,
    )


@pytest.mark.parametrize("payload", [None, [], {"meta": None}, {"meta": {"start": "2024-05-01", "end": 7}}])
def test_meta_missing_or_odd_is_empty_not_an_error(payload: object) -> None:
    meta = parse_meta(payload)
    assert meta.start is None and meta.end is None and meta.timezone is None


def test_instants() -> None:
    assert parse_instant("2026-03-08T05:00:00.000Z") == dt.datetime(2026, 3, 8, 5, tzinfo=dt.UTC)
    assert parse_instant("2026-03-08T00:00:00-05:00") == dt.datetime(2026, 3, 8, 5, tzinfo=dt.UTC)
    assert parse_instant("2026-03-08T05:00:00") == dt.datetime(2026, 3, 8, 5, tzinfo=dt.UTC)  # read as UTC
    assert parse_instant("2026-03-08") is None and parse_instant(None) is None and parse_instant("soon") is None


def test_numbers_are_read_tolerantly() -> None:
    assert [count(v) for v in (3, 3.0, "3", " 4 ", 2.5, True, None, "x")] == [3, 3, 3, 4, None, None, None, None]
    assert [ratio(v) for v in (0.25, 1, "0.5", True, None, "x")] == [0.25, 1.0, 0.5, None, None, None]
    assert isinstance(ratio(1), float)


def test_trends_skip_entries_without_a_bucket() -> None:
    rows = parse_trends(
        [
            {"bucket": "2026-11-10T00:00:00.000Z", "pageviews": 5, "unique_visitors": 2, "new_metric": 1},
            {"pageviews": 9},
            "junk",
            {"bucket": "2026-11-11T00:00:00.000Z"},
        ]
    )
    assert rows == [
        {"bucket": dt.datetime(2026, 11, 10, tzinfo=dt.UTC), "pageviews": 5, "unique_visitors": 2, "new_metric": 1},
        {"bucket": dt.datetime(2026, 11, 11, tzinfo=dt.UTC), "pageviews": None, "unique_visitors": None},
    ]
    assert parse_trends({"not": "a list"}) == []


def test_traffic_breakdown_rows_utm_joined_and_cut_lists_flagged() -> None:
    data = {
        "utm": [
            {"source": "google", "medium": "cpc", "campaign": "brand", "sessions": 10, "share": 0.5},
            {"source": None, "medium": "", "campaign": "x", "sessions": 10, "share": 0.5},
        ],
        "countries": [{"value": "US", "sessions": 7, "share": 1}],
        "devices": [{"value": None, "sessions": 1, "share": 0.1}],
        "future_segment": [{"value": "ignored", "sessions": 1}],
    }
    rows = parse_traffic_breakdown(data, limit=2)
    assert rows[0] == {
        "dimension": "utm",
        "value": "google / cpc / brand",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "brand",
        "sessions": 10,
        "share": 0.5,
        "may_be_truncated": True,  # exactly `limit` rows: the tail may be cut
    }
    assert rows[1]["value"] == "unknown / unknown / x"
    assert rows[2] == {
        "dimension": "countries",
        "value": "US",
        "utm_source": None,
        "utm_medium": None,
        "utm_campaign": None,
        "sessions": 7,
        "share": 1.0,
        "may_be_truncated": False,
    }
    assert rows[3]["value"] == "unknown"
    assert [r["dimension"] for r in rows] == ["utm", "utm", "countries", "devices"]
    assert parse_traffic_breakdown(None, limit=50) == []


def test_page_breakdown_rows_keep_the_page_totals() -> None:
    data = {
        "pages": [
            {
                "page": "/pricing/",
                "clicks": 9,
                "unique_clicks": 4,
                "targets": [
                    {"target": "Start free trial", "clicks": 6, "unique_clicks": 3},
                    {"target": "Contact sales", "clicks": 2, "unique_clicks": 2},
                    {"target": "#faq-toggle", "clicks": 1, "unique_clicks": 1},
                ],
            },
            {"page": "/", "clicks": 1, "unique_clicks": 1, "targets": [{"target": "nav", "clicks": 1}]},
        ],
        "trend": [{"bucket": "2026-11-10T00:00:00.000Z", "clicks": 10, "unique_clicks": 5}],
    }
    rows = parse_page_breakdown(data, CLICKS, limit=3)
    assert rows[0] == {
        "page": "/pricing/",
        "target": "Start free trial",
        "clicks": 6,
        "unique_clicks": 3,
        "page_clicks": 9,
        "page_unique_clicks": 4,
        "may_be_truncated": True,  # three targets = limit: the page's tail may be cut
    }
    assert rows[3] == {
        "page": "/",
        "target": "nav",
        "clicks": 1,
        "unique_clicks": None,
        "page_clicks": 1,
        "page_unique_clicks": 1,
        "may_be_truncated": False,
    }
    assert len(rows) == 4
    assert pages_of(rows) == ["/pricing/", "/"]
    # two pages at limit 2: every row of the day may be cut (a whole page may be missing)
    assert all(r["may_be_truncated"] for r in parse_page_breakdown(data, CLICKS, limit=2))
    orphan = {"pages": [{"clicks": 5, "targets": [{"target": "x", "clicks": 5}]}]}  # no page: cannot be keyed
    assert parse_page_breakdown(orphan, CLICKS, limit=50) == []


def test_forms_breakdown_and_details() -> None:
    form = {"form": "f1", "submissions": 2, "unique_submissions": 2}
    data = {"pages": [{"page": "/contact us/", "submissions": 2, "unique_submissions": 2, "forms": [form]}]}
    assert parse_page_breakdown(data, FORMS, limit=50) == [
        {
            "page": "/contact us/",
            "form": "f1",
            "submissions": 2,
            "unique_submissions": 2,
            "page_submissions": 2,
            "page_unique_submissions": 2,
            "may_be_truncated": False,
        }
    ]
    details = {"page": "%2Fcontact%20us%2F", "forms": [{**form, "unique_submissions": 1, "share": 1}]}
    assert parse_details(details, FORMS, "/contact us/", limit=1) == [
        {
            "page": "/contact us/",  # the page asked for, whatever spelling the vendor echoes
            "form": "f1",
            "submissions": 2,
            "unique_submissions": 1,
            "share": 1.0,
            "may_be_truncated": True,
        }
    ]
    assert parse_details({"page": "/"}, CLICKS, "/", limit=50) == []
