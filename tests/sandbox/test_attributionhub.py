"""Contract tests for the AttributionHub simulator, written from attributionhub-conversions-api.txt,
attributionhub-insights-api.txt and facts.md. Each would fail if the sim were kinder than the vendor."""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pendulum
import pytest

from sandbox.attributionhub import AttributionHubSim
from sandbox.core import ATTRIBUTIONHUB_KEY, SandboxConfig, SandboxRequest, SandboxResponse
from sandbox.sessions_world import Session, sessions_for_days

TODAY = pendulum.date(2026, 11, 20)
CONFIG = SandboxConfig(today=TODAY, seed=42)
HEADERS = {"Authentication": ATTRIBUTIONHUB_KEY, "Content-Type": "application/json"}
CONVERSIONS, INSIGHTS = "/api/v1/conversions", "/api/v1/insights"
NO_CONVERSIONS = {"message": "No conversions matched the given filters."}
NO_INSIGHTS = {"message": "No page data found for the given parameters."}
WINDOW = {"start_date": "2026-10-01", "end_date": "2026-10-31"}
# ~110 days of the self-referral channel, which never converts: more sessions than one request scans.
NEVER_CONVERTS = {"source": "example.com", "medium": "referral", "start_date": "2026-08-01"}


def call(
    path: str,
    body: Any = None,
    *,
    config: SandboxConfig = CONFIG,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    sim: AttributionHubSim | None = None,
    raw: bytes | None = None,
) -> SandboxResponse:
    payload = raw if raw is not None else orjson.dumps(body if body is not None else {})
    request = SandboxRequest.build(method, path, HEADERS if headers is None else headers, payload)
    return (sim or AttributionHubSim()).handle(request, config)


def post(path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    response = call(path, body, **kwargs)
    return response.status, orjson.loads(response.body)


def walk(body: dict[str, Any], config: SandboxConfig = CONFIG) -> list[dict[str, Any]]:
    """Every page of a /conversions query, following records_processed as the doc says."""
    pages, offset = [], 0
    for _ in range(1000):
        status, page = post(CONVERSIONS, {**body, "offset": offset}, config=config)
        assert status == 200
        pages.append(page)
        if "records" not in page or not page["pagination"]["has_more"]:
            return pages
        assert page["pagination"]["records_processed"] > offset, "offset must advance"
        offset = page["pagination"]["records_processed"]
    raise AssertionError("pagination never ended")


def key(record: dict[str, Any]) -> tuple:
    meta = record["conversion_meta"]
    # `email` is optional (facts.md; the hard sandbox leaves it out of some records)
    return (record.get("email"), record["timestamp"], record["conversion_page"], meta["type"], meta["id"])


def truth(
    start: str, end: str, config: SandboxConfig = CONFIG, **session_filters: str
) -> tuple[list[Session], Counter]:
    """The unpaged answer, straight from the world: matching sessions and their visible conversions."""
    lo = pendulum.parse(start).date().toordinal()
    hi = pendulum.parse(end).date().toordinal()
    today = config.today.toordinal()
    sessions = [
        s for s in sessions_for_days(config, lo, hi) if all(getattr(s, k) == v for k, v in session_filters.items())
    ]
    records = Counter()
    for s in sessions:
        stamp = pendulum.from_timestamp(s.start).format("YYYY-MM-DD HH:mm:ss")
        for c in s.visible_conversions(today):
            records[(s.email if c.email_captured else None, stamp, c.page, c.meta_type, c.meta_id)] += 1
    return sessions, records


# --- auth, method, body -------------------------------------------------------------------------------


def test_auth_header_is_literally_authentication() -> None:
    assert post(CONVERSIONS)[0] == 200
    bearer = {"Authorization": f"Bearer {ATTRIBUTIONHUB_KEY}", "Content-Type": "application/json"}
    status, body = post(CONVERSIONS, headers=bearer)
    assert status == 401  # "Authorization" is not the header this vendor reads (facts.md)
    assert body["error"] == "Unauthorized" and body["message"]
    status, _ = post(INSIGHTS, headers={**HEADERS, "Authentication": "wrong"})
    assert status == 401


def test_get_is_not_allowed() -> None:
    assert call(CONVERSIONS, method="GET").status == 405
    assert call(INSIGHTS, method="GET").status == 405


def test_unknown_path_is_404() -> None:
    assert call("/api/v1/contacts").status == 404


@pytest.mark.parametrize(
    ("headers", "raw"),
    [
        ({**HEADERS, "Content-Type": "text/plain"}, b"{}"),
        ({"Authentication": ATTRIBUTIONHUB_KEY}, b"{}"),
        (HEADERS, b'{"start_date": "2025-07-15", "end_date": "2025-07-30",}'),  # the doc's trailing comma
        (HEADERS, b"[1, 2]"),
    ],
)
def test_body_must_be_a_json_object_sent_as_json(headers: dict[str, str], raw: bytes) -> None:
    response = call(CONVERSIONS, headers=headers, raw=raw)
    assert response.status == 400
    assert orjson.loads(response.body)["error"] == "Bad Request"


@pytest.mark.parametrize("path", [CONVERSIONS, INSIGHTS])
@pytest.mark.parametrize(
    "dates",
    [
        {"start_date": "2026-13-01"},
        {"start_date": "2026-02-30"},
        {"end_date": "yesterday"},
        {"end_date": "2026/11/01"},
        {"start_date": 20261101},
        {"start_date": "2026-11-10", "end_date": "2026-11-01"},
    ],
)
def test_malformed_dates_are_400(path: str, dates: dict[str, Any]) -> None:
    assert post(path, dates)[0] == 400


@pytest.mark.parametrize("offset", [-1, "50", 1.5, True])
def test_offset_must_be_a_non_negative_int(offset: Any) -> None:
    assert post(CONVERSIONS, {"offset": offset})[0] == 400


def test_filters_must_be_strings() -> None:
    assert post(CONVERSIONS, {"source": ["google.com"]})[0] == 400


# --- records ------------------------------------------------------------------------------------------


def test_record_shape_matches_the_sample() -> None:
    status, body = post(CONVERSIONS, WINDOW)
    assert status == 200 and set(body) == {"records", "pagination"}
    for record in body["records"]:
        assert set(record) == {"email", "timestamp", "conversion_page", "previous_page", "conversion_meta"}
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", record["timestamp"])
        assert set(record["conversion_meta"]) == {"type", "id"}
        assert record["conversion_meta"]["type"] in {"hubspot_form", "custom_event", "html_form"}
        assert "id" not in record  # conversions carry no id (facts.md)
    stamps = [r["timestamp"] for r in body["records"]]
    assert stamps == sorted(stamps, reverse=True)  # newest first, like the document's sample


def test_email_is_only_present_if_captured() -> None:
    _, records = truth("2026-10-01", "2026-10-31")
    assert any(email is None for email, *_ in records), "some conversions have no captured email"
    served = [r["email"] for page in walk(WINDOW) for r in page["records"]]
    assert None in served and any(isinstance(email, str) and "@" in email for email in served)


# --- pagination without session filters ----------------------------------------------------------------


def test_direct_query_pages_by_conversion_records() -> None:
    pages = walk(WINDOW)
    _, expected = truth(WINDOW["start_date"], WINDOW["end_date"])
    assert len(pages) > 2
    offset = 0
    for page in pages:
        p = page["pagination"]
        assert len(page["records"]) <= 50
        assert p["records_processed"] == offset + len(page["records"])
        assert p["total_records"] == sum(expected.values())
        offset = p["records_processed"]
    assert [len(page["records"]) for page in pages[:-1]] == [50] * (len(pages) - 1)
    assert pages[-1]["pagination"]["has_more"] is False
    union = Counter(key(r) for page in pages for r in page["records"])
    assert union == expected  # nothing lost, nothing duplicated


def test_direct_query_offset_past_the_end_says_no_conversions() -> None:
    total = post(CONVERSIONS, WINDOW)[1]["pagination"]["total_records"]
    assert post(CONVERSIONS, {**WINDOW, "offset": total}) == (200, NO_CONVERSIONS)
    page = post(CONVERSIONS, {**WINDOW, "offset": total - 1})[1]
    assert len(page["records"]) == 1 and page["pagination"]["has_more"] is False


# --- pagination with session filters --------------------------------------------------------------------


def test_session_filtered_query_pages_by_sessions() -> None:
    body = {**WINDOW, "medium": "cpc"}
    sessions, expected = truth(WINDOW["start_date"], WINDOW["end_date"], medium="cpc")
    pages = walk(body)
    offset = 0
    for page in pages:
        p = page["pagination"]
        assert p["total_records"] == len(sessions)  # matching SESSIONS, not conversions
        assert p["records_processed"] > offset
        assert p["records_processed"] % 200 == 0 or p["records_processed"] == len(sessions)
        assert p["records_processed"] != offset + len(page["records"])
        offset = p["records_processed"]
    assert offset == len(sessions)
    assert any(len(page["records"]) > 50 for page in pages), "a batch can overshoot 50 records"
    assert Counter(key(r) for page in pages for r in page["records"]) == expected


def test_session_filtered_page_can_be_empty_with_has_more() -> None:
    status, page = post(CONVERSIONS, NEVER_CONVERTS)
    assert status == 200
    assert page["records"] == []
    assert page["pagination"]["has_more"] is True
    assert page["pagination"]["records_processed"] == 1000  # five batches of 200, then the budget ends
    assert page["pagination"]["total_records"] > 1000
    # ...and the walk ends with the no-results message once the pool is exhausted.
    assert walk(NEVER_CONVERTS)[-1] == NO_CONVERSIONS


def test_session_filtered_offset_is_a_session_offset() -> None:
    sessions, _ = truth(WINDOW["start_date"], WINDOW["end_date"], source="google.com")
    newest_first = sessions[::-1]  # the sim's order (module docstring: newest session first)
    today = TODAY.toordinal()

    def records_of(batch: list[Session]) -> list[tuple]:
        return [
            (
                s.email if c.email_captured else None,
                pendulum.from_timestamp(s.start).format("YYYY-MM-DD HH:mm:ss"),
                c.page,
                c.meta_type,
                c.meta_id,
            )
            for s in batch
            for c in s.visible_conversions(today)
        ]

    first = post(CONVERSIONS, {**WINDOW, "source": "google.com"})[1]
    second = post(CONVERSIONS, {**WINDOW, "source": "google.com", "offset": 200})[1]
    first_end, second_end = first["pagination"]["records_processed"], second["pagination"]["records_processed"]
    assert first_end > 200  # the scenario: offset 200 lands inside what the first page scanned
    assert [key(r) for r in first["records"]] == records_of(newest_first[:first_end])
    # offset 200 skips 200 SESSIONS (not 200 records): the page starts with the 201st session's conversions
    assert [key(r) for r in second["records"]] == records_of(newest_first[200:second_end])
    assert len(records_of(newest_first[:200])) != 200  # a record offset would land elsewhere


# --- filters -------------------------------------------------------------------------------------------


def test_filters_are_exact_and_case_sensitive() -> None:
    assert "records" in post(CONVERSIONS, {**WINDOW, "source": "google.com"})[1]
    assert post(CONVERSIONS, {**WINDOW, "source": "Google.com"})[1] == NO_CONVERSIONS
    assert post(CONVERSIONS, {**WINDOW, "source": "google"})[1] == NO_CONVERSIONS
    # The document's own example value "custom" does not match records typed "custom_event".
    assert post(CONVERSIONS, {**WINDOW, "meta_type": "custom"})[1] == NO_CONVERSIONS
    assert "records" in post(CONVERSIONS, {**WINDOW, "meta_type": "custom_event"})[1]


def test_conversion_point_filters_combine_with_and() -> None:
    body = {
        **WINDOW,
        "conversion_page": "https://www.example.com/request-a-demo/",
        "meta_id": "request-a-demo-form",
        "meta_type": "html_form",
    }
    records = [r for page in walk(body) for r in page["records"]]
    assert records
    for r in records:
        assert r["conversion_page"] == body["conversion_page"]
        assert r["conversion_meta"] == {"type": "html_form", "id": "request-a-demo-form"}
    assert post(CONVERSIONS, {**body, "meta_type": "hubspot_form"})[1] == NO_CONVERSIONS


def test_no_results_is_a_200_message() -> None:
    assert post(CONVERSIONS, {**WINDOW, "landing_page": "https://nowhere.example/"}) == (200, NO_CONVERSIONS)
    assert post(CONVERSIONS, {"start_date": "2020-01-01", "end_date": "2020-01-31"}) == (200, NO_CONVERSIONS)


# --- dates ---------------------------------------------------------------------------------------------


def test_default_window_is_30_days_ending_now() -> None:
    default = [r for page in walk({}) for r in page["records"]]
    explicit = [r for page in walk({"start_date": "2026-10-21", "end_date": "2026-11-19"}) for r in page["records"]]
    assert default == explicit
    assert min(r["timestamp"] for r in default) >= "2026-10-21 00:00:00"
    assert post(CONVERSIONS, {"start_date": "2026-10-20", "end_date": "2026-11-19"})[1]["pagination"][
        "total_records"
    ] > len(default)


def test_date_only_end_covers_the_whole_day_and_iso_is_exact() -> None:
    whole = [r for page in walk({"start_date": "2026-11-18", "end_date": "2026-11-18"}) for r in page["records"]]
    assert max(r["timestamp"] for r in whole) > "2026-11-18 12:00:00"
    assert min(r["timestamp"] for r in whole) >= "2026-11-18 00:00:00"
    morning = {"start_date": "2026-11-18T00:00:00Z", "end_date": "2026-11-18T12:00:00Z"}
    part = [r for page in walk(morning) for r in page["records"]]
    assert part and all(r["timestamp"] <= "2026-11-18 12:00:00" for r in part)
    afternoon = {"start_date": "2026-11-18T12:00:01+00:00", "end_date": "2026-11-18"}
    rest = [r for page in walk(afternoon) for r in page["records"]]
    assert Counter(map(key, part)) + Counter(map(key, rest)) == Counter(map(key, whole))


def test_late_conversions_appear_after_the_clock_moves() -> None:
    day = {"start_date": "2026-11-10", "end_date": "2026-11-12"}

    def seen(today: pendulum.Date) -> Counter:
        config = replace(CONFIG, today=today)
        return Counter(key(r) for page in walk(day, config) for r in page["records"])

    early, later, settled = seen(pendulum.date(2026, 11, 13)), seen(pendulum.date(2026, 11, 14)), seen(TODAY)
    assert early and sum(early.values()) < sum(later.values())  # the same query finds more records
    assert not early - later  # nothing disappears
    assert later == settled  # late_conversion_days=2: settled two days after the last day
    assert post(CONVERSIONS, day, config=replace(CONFIG, today=pendulum.date(2026, 11, 10)))[1] == NO_CONVERSIONS


def test_same_request_same_bytes() -> None:
    assert call(CONVERSIONS, {**WINDOW, "offset": 50}).body == call(CONVERSIONS, {**WINDOW, "offset": 50}).body
    assert call(INSIGHTS, WINDOW).body == call(INSIGHTS, WINDOW).body


# --- quota ---------------------------------------------------------------------------------------------


def test_monthly_quota_is_429_without_retry_after() -> None:
    sim, config = AttributionHubSim(), replace(CONFIG, attributionhub_monthly_quota=3)
    assert [call(CONVERSIONS, sim=sim, config=config).status for _ in range(3)] == [200, 200, 200]
    over = call(INSIGHTS, sim=sim, config=config)
    assert over.status == 429
    assert orjson.loads(over.body) == {
        "error": "API monthly limit exceeded.",
        "limit": 3,
        "used": 3,
        "domain": "example.com",
    }
    assert "Retry-After" not in over.headers
    later_same_month = replace(config, today=pendulum.date(2026, 11, 30))
    assert call(CONVERSIONS, sim=sim, config=later_same_month).status == 429
    assert call(CONVERSIONS, sim=sim, config=replace(config, today=pendulum.date(2026, 12, 1))).status == 200
    sim.reset()
    assert call(CONVERSIONS, sim=sim, config=config).status == 200


def test_unauthenticated_requests_do_not_use_quota() -> None:
    sim, config = AttributionHubSim(), replace(CONFIG, attributionhub_monthly_quota=1)
    assert call(CONVERSIONS, sim=sim, config=config, headers={"Content-Type": "application/json"}).status == 401
    assert call(CONVERSIONS, sim=sim, config=config).status == 200


# --- insights ------------------------------------------------------------------------------------------

PERCENT = re.compile(r"^\d{1,3}\.\d{2}%$")


def _pct(text: str) -> float:
    assert PERCENT.match(text), text
    return float(text[:-1])


@pytest.mark.parametrize("body", [WINDOW, {**WINDOW, "source": "google.com", "touch_scope": "converting"}])
def test_insights_are_internally_consistent(body: dict[str, Any]) -> None:
    status, payload = post(INSIGHTS, body)
    assert status == 200 and set(payload) == {"overall_metrics"}
    m = payload["overall_metrics"]
    users, sessions, conv = m["user_summary"], m["session_summary"], m["conversion_summary"]
    assert 0 < users["total_converted_users"] <= users["total_users"]
    assert _pct(users["conversion_rate"]) == pytest.approx(
        100 * users["total_converted_users"] / users["total_users"], abs=0.005
    )
    assert users["avg_sessions_per_user"] >= 1
    assert sessions["total_converting_sessions"] + sessions["total_drop_off_sessions"] <= sessions["total_sessions"]
    bins = conv["conversion_timeline_bins"]
    assert list(bins["counts"]) == ["0-1 days", "1-3 days", "3-7 days", "7+ days"]
    assert sum(bins["counts"].values()) == users["total_converted_users"]
    assert sum(bins["percentages"].values()) == pytest.approx(100, abs=0.05)
    assert conv["median_time_to_convert"] >= 0 and conv["avg_time_to_convert"] >= 0
    channels = m["channels"]
    assert sum(_pct(c["session_influence"]) for c in channels) == pytest.approx(100, abs=0.1)
    ranks = [c["total_sessions"] + c["total_users"] for c in channels]
    assert ranks == sorted(ranks, reverse=True)
    for c in channels:
        assert re.fullmatch(r"[^/]+/.+", c["channel"])
        for field in ("first", "assisting", "converting", "after"):
            assert c[f"converting_users_{field}_touch"] <= users["total_converted_users"]
        assert c["attributed_to_conversion"] <= c["total_users"] <= c["total_sessions"]
        assert _pct(c["conversion_rate"]) <= 100 and _pct(c["conversion_influence"]) <= 100
    # every converted user converted through exactly one channel
    assert sum(c["converting_users_converting_touch"] for c in channels) == users["total_converted_users"]
    assert sum(c["converting_users_first_touch"] for c in channels) == users["total_converted_users"]


def test_insights_touch_scope_is_validated_and_narrows() -> None:
    assert post(INSIGHTS, {**WINDOW, "touch_scope": "last"})[0] == 400
    assert post(INSIGHTS, {**WINDOW, "touch_scope": "First"})[0] == 400
    totals = {}
    for scope in ("any", "first", "converting", "assist", "after"):
        status, payload = post(INSIGHTS, {**WINDOW, "touch_scope": scope})
        assert status == 200
        totals[scope] = payload["overall_metrics"]["session_summary"]["total_sessions"]
    assert totals["any"] > max(v for k, v in totals.items() if k != "any")
    converting = post(INSIGHTS, {**WINDOW, "touch_scope": "converting"})[1]["overall_metrics"]
    summary = converting["session_summary"]
    assert summary["total_converting_sessions"] == summary["total_sessions"]
    assert converting["user_summary"]["conversion_rate"] == "100.00%"


def test_insights_filters_are_case_sensitive_and_no_data_is_a_message() -> None:
    assert post(INSIGHTS, {**WINDOW, "source": "Google.com"}) == (200, NO_INSIGHTS)
    assert post(INSIGHTS, {"start_date": "2020-01-01", "end_date": "2020-01-31"}) == (200, NO_INSIGHTS)
    # the self-referral channel never converts, yet its users do convert elsewhere in their journeys
    m = post(INSIGHTS, {**WINDOW, "source": "example.com", "medium": "referral"})[1]["overall_metrics"]
    assert m["session_summary"]["total_converting_sessions"] == 0
    assert m["user_summary"]["total_converted_users"] > 0


def test_insights_sessions_match_the_conversions_world() -> None:
    sessions, _ = truth(WINDOW["start_date"], WINDOW["end_date"], source="linkedin.com")
    m = post(INSIGHTS, {**WINDOW, "source": "linkedin.com"})[1]["overall_metrics"]
    assert m["session_summary"]["total_sessions"] == len(sessions)
    assert m["user_summary"]["total_users"] == len({s.user_id for s in sessions})


def test_quota_counting_is_thread_safe() -> None:
    sim, config = AttributionHubSim(), replace(CONFIG, attributionhub_monthly_quota=40)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: call(CONVERSIONS, sim=sim, config=config).status, range(100)))
    assert Counter(statuses) == {200: 40, 429: 60}


# --- over HTTP (the shared sandbox server) ----------------------------------------------------------------


def test_over_http_auth_pagination_and_no_results(sandbox: Any) -> None:
    url = sandbox.base_url + CONVERSIONS
    page = httpx.post(url, json=WINDOW, headers={"Authentication": ATTRIBUTIONHUB_KEY})
    assert page.status_code == 200 and page.headers["content-type"].startswith("application/json")
    first = page.json()
    assert len(first["records"]) == 50 and first["pagination"]["has_more"] is True
    nxt = httpx.post(url, json={**WINDOW, "offset": 50}, headers={"Authentication": ATTRIBUTIONHUB_KEY}).json()
    assert not {key(r) for r in first["records"]} & {key(r) for r in nxt["records"]}
    assert httpx.post(url, json=WINDOW, headers={"Authorization": ATTRIBUTIONHUB_KEY}).status_code == 401
    assert httpx.get(url, headers={"Authentication": ATTRIBUTIONHUB_KEY}).status_code == 405
    empty = httpx.post(url, json={**WINDOW, "source": "Google.com"}, headers={"Authentication": ATTRIBUTIONHUB_KEY})
    assert (empty.status_code, empty.json()) == (200, NO_CONVERSIONS)
    insights = httpx.post(sandbox.base_url + INSIGHTS, json=WINDOW, headers={"Authentication": ATTRIBUTIONHUB_KEY})
    assert insights.status_code == 200 and "overall_metrics" in insights.json()
