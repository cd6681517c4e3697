"""Contract tests for the HubSpot Analytics simulator, from hubspot-analytics-api.txt and facts.md.

Over real HTTP against the `sandbox` fixture (today 2026-11-20, seed 42). The report families and time periods
are spelled out here from facts.md, not imported from the simulator, so a sim that drops one fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pendulum
import pytest

from sandbox.core import HUBSPOT_TOKEN, SandboxRequest
from sandbox.hubspot_analytics import parse_query
from sandbox.server import SandboxServer

AUTH = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
BREAKDOWN_BY = ["totals", "sessions", "sources", "geolocation", "utm-campaigns", "utm-contents", "utm-mediums",
                "utm-sources", "utm-terms"]  # fmt: skip
OBJECT_TYPES = ["event-completions", "forms", "pages", "social-assists"]
CONTENT_TYPES = ["landing-pages", "standard-pages", "blog-posts", "listing-pages", "knowledge-articles"]
ALL_REPORTS = BREAKDOWN_BY + OBJECT_TYPES + CONTENT_TYPES
TIME_PERIODS = ["total", "daily", "weekly", "monthly", "summarize/daily", "summarize/weekly", "summarize/monthly"]
COUNTS = ["rawViews", "visits", "visitors", "submissions", "leads", "contacts", "subscribers",
          "marketingQualifiedLeads", "salesQualifiedLeads", "opportunities", "customers"]  # fmt: skip
RATIOS = {"pageviewsPerSession", "bounceRate", "timePerSession", "newVisitorSessionRate", "sessionToContactRate",
          "contactToCustomerRate"}  # fmt: skip
DOCUMENTED_METRICS = set(COUNTS) | RATIOS


@pytest.fixture
def hs(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, headers=AUTH, timeout=10) as client:
        yield client


def get(client: httpx.Client, report: str, period: str, **params: Any) -> Any:
    response = client.get(f"/analytics/v2/reports/{report}/{period}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def counts(row: dict[str, Any]) -> dict[str, int]:
    return {k: row.get(k, 0) for k in COUNTS}


def sum_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {k: sum(r.get(k, 0) for r in rows) for k in COUNTS}


# --- auth and validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": HUBSPOT_TOKEN}])
def test_missing_or_wrong_token_is_401(sandbox: SandboxServer, headers: dict[str, str]) -> None:
    response = httpx.get(f"{sandbox.base_url}/analytics/v2/reports/sources/total?start=20261101&end=20261102",
                         headers=headers)  # fmt: skip
    assert response.status_code == 401
    assert response.json()["status"] == "error"
    assert response.json()["message"]


def test_token_in_the_query_string_is_not_accepted(sandbox: SandboxServer) -> None:
    """facts.md: analytics authenticates with `Authorization: Bearer` only (the query token is Leads v1's)."""
    url = f"{sandbox.base_url}/analytics/v2/reports/sources/total"
    params = {"start": "20261101", "end": "20261102"}
    for name in ("access_token", "hapikey"):
        assert httpx.get(url, params={**params, name: HUBSPOT_TOKEN}).status_code == 401


def test_limit_defaults_to_350() -> None:
    """facts.md: `limit` default 350. No simulated report has more breakdowns, so pin the parsed default."""
    request = SandboxRequest.build("GET", "/analytics/v2/reports/pages/total?start=20261101&end=20261102")
    assert parse_query(request, "pages", "total").limit == 350


@pytest.mark.parametrize(
    "params",
    [
        {"end": "20261102"},
        {"start": "20261101"},
        {},
        {"start": "2026-11-01", "end": "20261102"},
        {"start": "20261101", "end": "1102"},
        {"start": "20261340", "end": "20261341"},
        {"start": "20261105", "end": "20261101"},  # end before start
    ],
)
def test_bad_start_end_is_400_with_hubspot_error_body(hs: httpx.Client, params: dict[str, str]) -> None:
    response = hs.get("/analytics/v2/reports/sources/daily", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error" and body["message"] and body["correlationId"]


def test_unknown_report_or_period_is_404(hs: httpx.Client) -> None:
    assert hs.get("/analytics/v2/reports/nope/total?start=20261101&end=20261101").status_code == 404
    assert hs.get("/analytics/v2/reports/sources/hourly?start=20261101&end=20261101").status_code == 404


def test_drilldown_outside_breakdown_by_family_or_d2_alone_is_400(hs: httpx.Client) -> None:
    base = {"start": "20261101", "end": "20261101"}
    assert hs.get("/analytics/v2/reports/forms/total", params={**base, "d1": "x"}).status_code == 400
    assert hs.get("/analytics/v2/reports/sources/total", params={**base, "d2": "google"}).status_code == 400


# --- shapes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("report", ALL_REPORTS)
def test_every_report_answers_every_time_period(hs: httpx.Client, report: str) -> None:
    for period in TIME_PERIODS:
        body = get(hs, report, period, start="20261026", end="20261108")
        if period == "total":
            assert set(body) == {"offset", "total", "totals", "breakdowns"}
            assert set(body["totals"]) <= DOCUMENTED_METRICS and body["totals"]["rawViews"] > 0
        else:
            assert body and all(isinstance(rows, list) for rows in body.values())
            for rows in body.values():
                for row in rows:
                    assert ("breakdown" in row) == (period in ("daily", "weekly", "monthly") and report != "totals")
                    assert set(row) - {"breakdown"} <= DOCUMENTED_METRICS
    exists = hs.get(f"/analytics/v2/reports/{report}/exists")
    assert exists.status_code == 200 and exists.json() == {"exists": True}


def test_total_shape_matches_document_example(hs: httpx.Client) -> None:
    body = get(hs, "sources", "total", start="20261101", end="20261119")
    assert body["total"] == len(body["breakdowns"]) == body["offset"]  # offset=6,total=6 on the last page
    values = [b["breakdown"] for b in body["breakdowns"]]
    assert {"direct", "organic", "paid", "referrals", "offline"} <= set(values)
    offline = next(b for b in body["breakdowns"] if b["breakdown"] == "offline")
    assert "visits" not in offline and offline["contacts"] > 0  # zero metrics are left out, as in the example
    for row in body["breakdowns"]:
        if row.get("visits"):
            assert row["pageviewsPerSession"] == pytest.approx(row["rawViews"] / row["visits"])
            assert 0 <= row["bounceRate"] <= 1
        if row.get("contacts") and row.get("visits"):
            assert row["sessionToContactRate"] == pytest.approx(row["contacts"] / row["visits"])


@pytest.mark.sandbox_config(today_partial=False)  # the kind rule itself; a partial today is test_hardening's check
def test_daily_keys_every_day_and_today_and_future_are_empty(hs: httpx.Client) -> None:
    body = get(hs, "totals", "daily", start="20261115", end="20261122")
    assert list(body) == [f"2026-11-{d}" for d in range(15, 23)]
    assert all(len(body[f"2026-11-{d}"]) == 1 for d in range(15, 20))  # through yesterday
    assert body["2026-11-20"] == [] and body["2026-11-21"] == [] and body["2026-11-22"] == []
    assert "breakdown" not in body["2026-11-19"][0]


def test_days_before_history_have_no_data(hs: httpx.Client) -> None:
    body = get(hs, "totals", "daily", start="20200101", end="20200103")
    assert body == {"2020-01-01": [], "2020-01-02": [], "2020-01-03": []}


def test_weekly_keys_are_monday_starts_and_monthly_keys_first_days(hs: httpx.Client) -> None:
    weekly = get(hs, "sources", "weekly", start="20261001", end="20261031")
    assert all(dt.date.fromisoformat(k).weekday() == 0 for k in weekly)
    assert next(iter(weekly)) == "2026-09-28"  # the period start, even when `start` falls inside the week
    monthly = get(hs, "sources", "monthly", start="20260815", end="20261110")
    assert list(monthly) == ["2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01"]


# --- consistency ----------------------------------------------------------------------------------------


def test_totals_equal_sum_of_breakdowns_and_period_equals_sum_of_days(hs: httpx.Client) -> None:
    params = {"start": "20261020", "end": "20261119"}
    total = get(hs, "sources", "total", **params)
    assert counts(total["totals"]) == sum_counts(total["breakdowns"])
    daily = get(hs, "sources", "daily", **params)
    per_breakdown: dict[str, dict[str, int]] = {}
    for rows in daily.values():
        for row in rows:
            acc = per_breakdown.setdefault(row["breakdown"], dict.fromkeys(COUNTS, 0))
            for k in COUNTS:
                acc[k] += row.get(k, 0)
    assert per_breakdown == {b["breakdown"]: counts(b) for b in total["breakdowns"]}
    totals_daily = get(hs, "totals", "daily", **params)
    summarize = get(hs, "sources", "summarize/daily", **params)
    for day, rows in daily.items():
        assert counts(totals_daily[day][0]) == sum_counts(rows) == counts(summarize[day][0])
    weekly = get(hs, "totals", "weekly", **params)
    assert sum_counts([r for rows in weekly.values() for r in rows]) == counts(total["totals"])


def test_d1_rows_sum_to_parent_and_d2_rows_sum_to_d1_row(hs: httpx.Client) -> None:
    params = {"start": "20261106", "end": "20261119"}  # 14 days: longer drilldowns are 501 SCAN_TIME_EXCEEDED
    top = {b["breakdown"]: b for b in get(hs, "sources", "total", **params)["breakdowns"]}
    organic = get(hs, "sources", "total", d1="organic", **params)
    assert counts(organic["totals"]) == counts(top["organic"])
    keywords = {b["breakdown"]: b for b in organic["breakdowns"]}
    assert "marketing analytics" in keywords  # d1=organic breaks down by keyword
    engines = get(hs, "sources", "total", d1="organic", d2="marketing analytics", **params)
    assert counts(engines["totals"]) == counts(keywords["marketing analytics"])
    assert {b["breakdown"] for b in engines["breakdowns"]} <= {"google", "bing", "yahoo", "duckduckgo", "ecosia"}
    paid = get(hs, "sources", "daily", d1="paid", **params)
    top_daily = get(hs, "sources", "daily", **params)
    for day, rows in paid.items():
        parent = next((r for r in top_daily[day] if r["breakdown"] == "paid"), {})
        assert sum_counts(rows) == counts(parent)


def test_unknown_drilldown_value_has_no_rows(hs: httpx.Client) -> None:
    body = get(hs, "sources", "total", start="20261106", end="20261119", d1="no-such-source")
    assert body["breakdowns"] == [] and body["total"] == 0


def test_geolocation_breaks_down_by_country_and_forms_by_guid(hs: httpx.Client) -> None:
    geo = get(hs, "geolocation", "total", start="20261101", end="20261119")
    assert {"us", "gb", "de"} <= {b["breakdown"] for b in geo["breakdowns"]}
    forms = get(hs, "forms", "total", start="20261101", end="20261119")
    assert all(len(b["breakdown"]) == 32 for b in forms["breakdowns"])


def test_f_includes_and_e_excludes_breakdowns(hs: httpx.Client) -> None:
    params = {"start": "20261101", "end": "20261119"}
    included = get(hs, "sources", "total", f=["organic", "paid"], **params)
    assert {b["breakdown"] for b in included["breakdowns"]} == {"organic", "paid"}
    assert counts(included["totals"]) == sum_counts(included["breakdowns"])
    excluded = get(hs, "sources", "total", e=["direct", "offline"], **params)
    assert {b["breakdown"] for b in excluded["breakdowns"]}.isdisjoint({"direct", "offline"})
    assert excluded["total"] == 6
    daily = get(hs, "sources", "daily", f="email", **params)
    assert {r["breakdown"] for rows in daily.values() for r in rows} == {"email"}


def test_sort_and_sortdir(hs: httpx.Client) -> None:
    params = {"start": "20261101", "end": "20261119", "limit": 1000}  # every value on one page
    desc = [b.get("rawViews", 0) for b in get(hs, "pages", "total", sort="rawViews", **params)["breakdowns"]]
    assert desc == sorted(desc, reverse=True)
    asc = get(hs, "pages", "total", sort="rawViews", sortDir="ASC", **params)["breakdowns"]
    assert [b.get("rawViews", 0) for b in asc] == sorted(desc)
    assert hs.get("/analytics/v2/reports/pages/total", params={**params, "sortDir": "UP"}).status_code == 400


# --- paging -------------------------------------------------------------------------------------------


def test_total_pages_by_limit_and_offset_until_offset_reaches_total(hs: httpx.Client) -> None:
    params = {"start": "20261101", "end": "20261119"}
    first = get(hs, "pages", "total", **params)  # default limit 350: the hard sandbox's 400 pages need two
    assert first["offset"] == len(first["breakdowns"]) == min(350, first["total"])
    everything = get(hs, "pages", "total", limit=1000, **params)
    assert everything["offset"] == everything["total"] == len(everything["breakdowns"]) > 7
    assert first["breakdowns"] == everything["breakdowns"][:350]
    seen, offset, pages = [], 0, 0
    while True:
        page = get(hs, "pages", "total", limit=5, offset=offset, **params)
        pages += 1
        assert len(page["breakdowns"]) <= 5 and page["total"] == everything["total"]
        seen += page["breakdowns"]
        assert page["offset"] == offset + len(page["breakdowns"])  # the next offset, not the one asked for
        offset = page["offset"]
        if offset >= page["total"]:
            break
    assert seen == everything["breakdowns"] and pages == -(-everything["total"] // 5)
    past = get(hs, "pages", "total", limit=5, offset=everything["total"], **params)
    assert past["breakdowns"] == [] and past["offset"] >= past["total"]


# --- restatement and determinism --------------------------------------------------------------------------


@pytest.mark.sandbox_config(restate_can_drop=False)  # the kind rule itself; days that drop: test_hardening
def test_recent_days_grow_then_settle_after_restate_days(sandbox: SandboxServer, hs: httpx.Client) -> None:
    day = pendulum.date(2026, 11, 19)
    seen = []
    for age in range(1, 7):
        sandbox.set_today(day.add(days=age))
        body = get(hs, "sources", "daily", start="20261119", end="20261119")["2026-11-19"]
        seen.append(sum_counts(body)["visits"])
    assert seen[0] < seen[1] < seen[2] < seen[3]  # ages 1..3 restated, age 4 final (restate_days=3)
    assert seen[3] == seen[4] == seen[5]
    assert seen[0] == pytest.approx(0.7 * seen[3], abs=2)
    sandbox.set_today(day.add(days=200))
    assert sum_counts(get(hs, "sources", "daily", start="20261119", end="20261119")["2026-11-19"])["visits"] == seen[3]


def test_same_request_same_bytes_and_seed_changes_world(sandbox_factory: Any) -> None:
    a, b, c = sandbox_factory(), sandbox_factory(), sandbox_factory(seed=7)
    path = "/analytics/v2/reports/utm-campaigns/daily?start=20261001&end=20261031"
    bodies = [httpx.get(s.base_url + path, headers=AUTH).content for s in (a, a, b, c)]
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[3] != bodies[0]


def test_views_list_and_filter_id(hs: httpx.Client) -> None:
    views = hs.get("/analytics/v2/views")
    assert views.status_code == 200
    view_id = views.json()[0]["id"]
    params = {"start": "20261101", "end": "20261101"}
    assert hs.get("/analytics/v2/reports/sources/total", params={**params, "filterId": view_id}).status_code == 200
    assert hs.get("/analytics/v2/reports/sources/total", params={**params, "filterId": "999"}).status_code == 400
