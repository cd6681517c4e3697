"""The data limits of hubspot-analytics-api.txt ("Error responses and data limits"): 413
RESULT_POINT_LIMIT_EXCEEDED past 500 time points, 501 RESULT_LIMIT_EXCEEDED past the breakdown limit for
total/summarize, 501 SCAN_TIME_EXCEEDED when processing times out. Not transient (facts.md): the same request
fails the same way every time; only a narrower one succeeds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from sandbox.core import HUBSPOT_TOKEN
from sandbox.server import SandboxServer

AUTH = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}


@pytest.fixture
def hs(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, headers=AUTH, timeout=10) as client:
        yield client


def span(first: dt.date, days: int) -> dict[str, str]:
    return {"start": first.strftime("%Y%m%d"), "end": (first + dt.timedelta(days=days - 1)).strftime("%Y%m%d")}


def assert_error(response: httpx.Response, status: int, error_type: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == error_type
    assert body["message"] and body["correlationId"]


@pytest.mark.parametrize("period", ["daily", "summarize/daily"])
def test_daily_500_points_ok_501_points_413(hs: httpx.Client, period: str) -> None:
    first = dt.date(2025, 7, 1)
    ok = hs.get(f"/analytics/v2/reports/sources/{period}", params=span(first, 500))
    assert ok.status_code == 200 and len(ok.json()) == 500
    too_many = hs.get(f"/analytics/v2/reports/sources/{period}", params=span(first, 501))
    assert_error(too_many, 413, "RESULT_POINT_LIMIT_EXCEEDED")
    again = hs.get(f"/analytics/v2/reports/sources/{period}", params=span(first, 501))
    assert again.status_code == 413  # not transient: retrying cannot help


def test_weekly_points_are_counted_in_weeks(hs: httpx.Client) -> None:
    monday = dt.date(2017, 1, 2)
    assert hs.get("/analytics/v2/reports/totals/weekly", params=span(monday, 500 * 7)).status_code == 200
    assert_error(
        hs.get("/analytics/v2/reports/totals/weekly", params=span(monday, 500 * 7 + 1)),
        413,
        "RESULT_POINT_LIMIT_EXCEEDED",
    )


def test_monthly_points_are_counted_in_months(hs: httpx.Client) -> None:
    ok = {"start": "19850101", "end": "20260831"}  # 500 months
    assert hs.get("/analytics/v2/reports/totals/monthly", params=ok).status_code == 200
    too_many = {"start": "19850101", "end": "20260901"}  # touches a 501st month
    assert_error(hs.get("/analytics/v2/reports/totals/monthly", params=too_many), 413, "RESULT_POINT_LIMIT_EXCEEDED")


def test_total_has_no_point_limit(hs: httpx.Client) -> None:
    assert hs.get("/analytics/v2/reports/sources/total", params=span(dt.date(2024, 1, 1), 900)).status_code == 200


@pytest.mark.sandbox_config(hubspot_breakdown_limit=3)
def test_too_many_breakdowns_is_501_for_total_and_summarize_only(hs: httpx.Client) -> None:
    params = {"start": "20261101", "end": "20261119"}
    for period in ("total", "summarize/daily", "summarize/monthly"):
        assert_error(hs.get(f"/analytics/v2/reports/sources/{period}", params=params), 501, "RESULT_LIMIT_EXCEEDED")
    filtered = hs.get("/analytics/v2/reports/sources/total", params={**params, "f": ["organic", "paid"]})
    assert filtered.status_code == 200  # the document: "Try using filters"
    assert hs.get("/analytics/v2/reports/sources/daily", params=params).status_code == 200


@pytest.mark.sandbox_config(hubspot_scan_time_days=31)
def test_scan_time_exceeded_past_configured_span(hs: httpx.Client) -> None:
    assert hs.get("/analytics/v2/reports/sources/total", params=span(dt.date(2026, 10, 1), 31)).status_code == 200
    assert_error(
        hs.get("/analytics/v2/reports/sources/total", params=span(dt.date(2026, 10, 1), 32)),
        501,
        "SCAN_TIME_EXCEEDED",
    )


@pytest.mark.sandbox_config(hubspot_point_limit=10)
def test_point_limit_comes_from_config(hs: httpx.Client) -> None:
    assert hs.get("/analytics/v2/reports/sources/daily", params=span(dt.date(2026, 11, 1), 10)).status_code == 200
    assert hs.get("/analytics/v2/reports/sources/daily", params=span(dt.date(2026, 11, 1), 11)).status_code == 413
