"""The hard sandbox (issue 18): each behaviour that makes it as hard as the real vendors, with its switch.

Every behaviour is a ``check_*`` function that raises AssertionError when the sandbox is kinder. Its test
runs it on the `sandbox_factory` (hard: ``sandbox.core.HARD``); ``test_each_check_fails_with_its_switch_off``
runs the same check with only that behaviour's switch turned back to the kind default and expects it to
fail, so no check here can pass against the kinder behaviour.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pendulum
import pytest

from sandbox.core import ATTRIBUTIONHUB_KEY, HARD, HUBSPOT_TOKEN, HUMBLYTICS_KEY, HUMBLYTICS_PROPERTY, SandboxConfig
from sandbox.hubspot_leads_world import BULK_EDIT_MS
from sandbox.server import SandboxServer
from tests.sandbox.support import fake_clock_limits

AUTH = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
AH = {"Authentication": ATTRIBUTIONHUB_KEY}
HUMBLY = {"Authorization": f"Bearer {HUMBLYTICS_KEY}"}
TODAY = pendulum.date(2026, 11, 20)
DAILY_BUDGET = 5
Factory = Callable[..., SandboxServer]


# --- helpers ---------------------------------------------------------------------------------------------


def ms(server: SandboxServer) -> int:
    return int(server.now().timestamp() * 1000)


def all_leads(client: httpx.Client, stop_ms: int, pivot: str = "insertedAt") -> dict[str, dict[str, Any]]:
    """Every lead with pivot <= stop_ms (soft-deleted too), by guid, read with plain offsets — exact while the
    clock moves only on the never-changing `insertedAt` (by `lastModifiedAt` it loses leads: the point of
    the moving clock)."""
    found: list[dict[str, Any]] = []
    while True:
        params = {"access_token": HUBSPOT_TOKEN, "timePivot": pivot, "sort": pivot, "dir": "asc",
                  "includeDeleted": "true", "stopTime": stop_ms, "max": 100, "offset": len(found)}  # fmt: skip
        page = client.get("/leads/v1/list", params=params).json()
        found += page
        if len(page) < 100:
            return {lead["guid"]: lead for lead in found}


def tick(client: httpx.Client, requests: int) -> None:
    """Cheap vendor requests: each one moves a moving clock one step."""
    for _ in range(requests):
        assert client.get("/leads/v1/list", params={"access_token": HUBSPOT_TOKEN, "max": 1}).status_code == 200


def conversions(client: httpx.Client, first: str, last: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    while True:
        body = client.post("/api/v1/conversions", json={"start_date": first, "end_date": last,
                                                        "offset": len(records)}, headers=AH).json()  # fmt: skip
        records += body.get("records", [])
        if not body.get("pagination", {}).get("has_more"):
            return records


def visits(client: httpx.Client, day: str) -> int:
    start = day.replace("-", "")
    rows = client.get("/analytics/v2/reports/totals/daily", params={"start": start, "end": start}, headers=AUTH)
    body = rows.json()[day]
    return body[0]["visits"] if body else 0


# --- 1. the world changes during a run -----------------------------------------------------------------


def check_clock_moves_during_a_run(server: SandboxServer) -> None:
    """Simulated now advances with requests: leads are created mid-run and today's numbers grow mid-run."""
    with httpx.Client(base_url=server.base_url) as client:
        first_now = ms(server)
        before = all_leads(client, first_now)
        today_before = visits(client, TODAY.isoformat())
        tick(client, 30)
        after = all_leads(client, ms(server))
        today_after = visits(client, TODAY.isoformat())
    created = [g for g in after if g not in before]
    assert created and all(after[g]["insertedAt"] > first_now for g in created), "no lead was created mid-run"
    assert today_after > today_before, f"today's numbers did not move ({today_before} -> {today_after})"
    log = server.request_log
    assert log[-1]["at"] > log[0]["at"] and log[0]["at"] == first_now


def check_leads_edited_and_deleted_mid_run(server: SandboxServer) -> None:
    """Over a simulated day of requests, hundreds of leads already read are edited, some deleted (the churn;
    a clock that moves without it edits about a dozen)."""
    with httpx.Client(base_url=server.base_url) as client:
        start = ms(server)
        before = all_leads(client, start)
        tick(client, 114)
        after = all_leads(client, ms(server))
    edited = [g for g in before if after[g]["lastModifiedAt"] > start]
    deleted = [g for g in edited if after[g]["isDeleted"] and not before[g]["isDeleted"]]
    assert len(edited) >= 40, f"only {len(edited)} leads edited mid-run"
    assert len(deleted) >= 2, f"only {len(deleted)} leads deleted mid-run"


def check_conversions_arrive_mid_run(server: SandboxServer) -> None:
    """Re-reading the same past window later in the same run finds conversions that were not there before."""
    with httpx.Client(base_url=server.base_url) as client:
        before = conversions(client, "2026-11-13", "2026-11-19")
        tick(client, 60)
        after = conversions(client, "2026-11-13", "2026-11-19")
    assert len(after) > len(before), f"{len(before)} conversions before, {len(after)} after"


# --- 2. limits -----------------------------------------------------------------------------------------


def check_scan_time_for_long_drilldowns(server: SandboxServer) -> None:
    """501 SCAN_TIME_EXCEEDED for a drilldown over a long range; the same range without d1, or a shorter one,
    is answered (hubspot-analytics-api.txt: narrow the range or use filters)."""
    days = HARD["hubspot_scan_time_drilldown_days"]
    last = TODAY.subtract(days=1)
    long = {"start": last.subtract(days=days).format("YYYYMMDD"), "end": last.format("YYYYMMDD")}
    short = {**long, "start": last.subtract(days=days - 1).format("YYYYMMDD")}
    with httpx.Client(base_url=server.base_url, headers=AUTH) as client:
        refused = client.get("/analytics/v2/reports/sources/daily", params={**long, "d1": "organic"})
        assert refused.status_code == 501, refused.text
        assert refused.json()["errorType"] == "SCAN_TIME_EXCEEDED"
        total = client.get("/analytics/v2/reports/sources/total", params={**long, "d1": "paid"})
        assert total.status_code == 501
        assert client.get("/analytics/v2/reports/sources/daily", params={**short, "d1": "organic"}).status_code == 200
        assert client.get("/analytics/v2/reports/sources/daily", params=long).status_code == 200


def check_monthly_quota_within_a_long_backfill(server: SandboxServer) -> None:
    """AttributionHub's monthly quota is spent by fewer requests than a year's backfill sends (one insights
    snapshot per day alone is 365), then answers the documented 429 for the rest of the month."""
    quota = HARD["attributionhub_monthly_quota"]
    assert quota < 365
    body = {"start_date": "2026-11-01", "end_date": "2026-11-01"}
    with httpx.Client(base_url=server.base_url, headers=AH) as client:
        statuses = [client.post("/api/v1/conversions", json=body).status_code for _ in range(quota)]
        spent = client.post("/api/v1/insights", json=body)
    assert statuses == [200] * quota
    assert spent.status_code == 429 and "retry-after" not in spent.headers
    assert spent.json() == {"error": "API monthly limit exceeded.", "limit": quota, "used": quota,
                            "domain": "example.com"}  # fmt: skip


def check_humblytics_429_with_and_without_retry_after(server: SandboxServer) -> None:
    clock = fake_clock_limits(server)
    limit, _ = server.config.humblytics_rate_limit or (0, 0)
    url = f"{server.url_for('humblytics')}/properties/{HUMBLYTICS_PROPERTY}/traffic/trends"
    params = {"start": "2026-11-01", "end": "2026-11-02"}
    with httpx.Client(headers=HUMBLY) as client:
        answers = [client.get(url, params=params) for _ in range(limit + 6)]
        clock.t += 0.5
        answers += [client.get(url, params=params) for _ in range(2)]
    assert [a.status_code for a in answers[:limit]] == [200] * limit
    refused = answers[limit:]
    assert {a.status_code for a in refused} == {429}
    with_header = [a for a in refused if "retry-after" in a.headers]
    assert with_header and len(with_header) < len(refused), "429s must come both with and without Retry-After"
    assert all(float(a.headers["retry-after"]) >= 1 for a in with_header)


def check_hubspot_daily_limit(server: SandboxServer) -> None:
    """HubSpot's daily budget: past it every HubSpot request is a 429 with policyName DAILY (no Retry-After)
    until the simulated day changes."""
    budget = DAILY_BUDGET  # the check's config: HARD's 650,000 (facts.md) is a day's worth of requests
    with httpx.Client(base_url=server.base_url, headers=AUTH) as client:
        exists = "/analytics/v2/reports/sources/exists"
        assert [client.get(exists).status_code for _ in range(budget)] == [200] * budget
        leads = client.get("/leads/v1/list", params={"access_token": HUBSPOT_TOKEN, "max": 1})
        assert leads.status_code == 429 and leads.json()["policyName"] == "DAILY"
        assert "retry-after" not in leads.headers
        server.set_today(TODAY.add(days=1))
        assert client.get(exists).status_code == 200


def check_refused_requests_count_toward_the_window(server: SandboxServer) -> None:
    """A client that keeps knocking while limited stays limited: its refused requests fill the next window."""
    clock = fake_clock_limits(server)
    with httpx.Client(base_url=server.base_url, headers=AUTH) as client:

        def status_at(t: float) -> int:
            clock.t = 1000.0 + t
            return client.get("/analytics/v2/reports/sources/exists").status_code

        assert [status_at(0.0) for _ in range(3)] == [200] * 3
        assert [status_at(0.5) for _ in range(3)] == [429] * 3
        assert status_at(1.0) == 429, "the requests refused at 0.5 s still count at 1.0 s"
        assert status_at(1.6) == 200


# --- 3. deeper lateness ------------------------------------------------------------------------------------


def seen_at_ages(
    server: SandboxServer, days: range, ages: tuple[int, ...], read: Callable[[httpx.Client, str], int]
) -> dict[pendulum.Date, list[int]]:
    """``read(client, day)`` for each October day in ``days``, as seen on each night ``day + age``."""
    seen: dict[pendulum.Date, list[int]] = {}
    with httpx.Client(base_url=server.base_url) as client:
        for d in days:
            day = pendulum.date(2026, 10, d)
            for age in ages:
                server.set_today(day.add(days=age))
                seen.setdefault(day, []).append(read(client, day.isoformat()))
    return seen


def check_conversions_up_to_three_days_late(server: SandboxServer) -> None:
    """Some conversions of day D appear only after the night of D+3 (and all by the night of D+4)."""
    seen = seen_at_ages(server, range(1, 15), (3, 4, 10), lambda client, day: len(conversions(client, day, day)))
    assert all(counts[1] == counts[2] for counts in seen.values()), f"conversions still arriving after 4 nights: {seen}"
    assert sum(counts[1] - counts[0] for counts in seen.values()) > 0, "no conversion arrived after its third night"


def check_restated_days_go_down(server: SandboxServer) -> None:
    """A restated analytics day can show more than its final numbers and come down to them."""
    seen = seen_at_ages(server, range(1, 13), (1, 2, 3, 4, 5), visits)
    assert all(values[3] == values[4] for values in seen.values()), f"restated after 3 days: {seen}"
    drops = sum(any(b < a for a, b in itertools.pairwise(values)) for values in seen.values())
    assert drops >= 2, f"only {drops} of 12 days went down during their restatement"


# --- 4. sizes that exercise paging -------------------------------------------------------------------------


def check_reports_larger_than_one_total_page(server: SandboxServer) -> None:
    """`blog-posts` has more breakdowns in a week than one `total` page (limit 350) holds; paging gets them all."""
    params = {"start": "20261113", "end": "20261119"}
    seen: list[str] = []
    with httpx.Client(base_url=server.base_url, headers=AUTH) as client:
        while True:
            page = client.get("/analytics/v2/reports/blog-posts/total", params={**params, "offset": len(seen)}).json()
            seen += [row["breakdown"] for row in page["breakdowns"]]
            if page["offset"] >= page["total"]:
                break
    assert page["total"] > 350 and len(seen) == page["total"] == len(set(seen))


def check_more_than_a_page_of_leads_share_one_millisecond(server: SandboxServer) -> None:
    """The weekly bulk edit: more than 100 leads carry the same lastModifiedAt (the keyset paginator's tie case)."""
    with httpx.Client(base_url=server.base_url) as client:
        leads = all_leads(client, ms(server))
    moment, count = Counter(lead["lastModifiedAt"] for lead in leads.values()).most_common(1)[0]
    assert count > 100, f"the largest group of leads sharing one lastModifiedAt has {count}"
    at = pendulum.from_timestamp(moment / 1000, tz="UTC")
    assert at.day_of_week == pendulum.MONDAY and at.hour * 3_600_000 == BULK_EDIT_MS and at.microsecond == 0


# --- 5. today is partial -----------------------------------------------------------------------------------


def check_today_is_partial(server: SandboxServer) -> None:
    """Today answers with numbers (not nothing), smaller than the day's final ones, growing during the day —
    analytics, AttributionHub sessions and Humblytics buckets alike."""
    today = TODAY.isoformat()
    trends = f"{server.url_for('humblytics')}/properties/{HUMBLYTICS_PROPERTY}/traffic/trends"
    window = {"start": today, "end": TODAY.add(days=1).isoformat()}
    with httpx.Client(base_url=server.base_url) as client:
        early = visits(client, today)
        humbly_early = client.get(trends, params=window, headers=HUMBLY).json()["data"][0]["pageviews"]
        insights = client.post("/api/v1/insights", json={"start_date": today, "end_date": today}, headers=AH)
        tick(client, 40)
        later = visits(client, today)
        humbly_later = client.get(trends, params=window, headers=HUMBLY).json()["data"][0]["pageviews"]
        server.set_today(TODAY.add(days=10))
        final = visits(client, today)
    assert 0 < early < later < final, (early, later, final)
    assert 0 < humbly_early < humbly_later
    assert insights.status_code == 200 and insights.json()["overall_metrics"]["session_summary"]["total_sessions"] > 0


# --- 6. response variants ----------------------------------------------------------------------------------


def _shape(response: httpx.Response) -> tuple[str, ...]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return (response.headers.get("content-type", ""), "not json" if response.content else "empty")
    return (response.headers.get("content-type", ""), *sorted(body))


def check_error_bodies_vary(server: SandboxServer) -> None:
    """Injected errors come in several shapes — no body, plain text, keys missing or added — while a HubSpot
    429 keeps its policyName and every HubSpot error its X-HubSpot-Correlation-Id header."""
    server.set_faults(
        "hubspot_analytics:status=500,count=4;hubspot_leads:status=429,count=3;humblytics:status=429,count=3"
    )
    trends = f"{server.url_for('humblytics')}/properties/{HUMBLYTICS_PROPERTY}/traffic/trends"
    with httpx.Client(base_url=server.base_url) as client:
        errors = [client.get("/analytics/v2/reports/sources/exists", headers=AUTH) for _ in range(4)]
        limited = [client.get("/leads/v1/list", params={"access_token": HUBSPOT_TOKEN}) for _ in range(3)]
        humbly = [client.get(trends, params={"start": "2026-11-01", "end": "2026-11-02"}, headers=HUMBLY)
                  for _ in range(3)]  # fmt: skip
    assert len({_shape(r) for r in errors}) == 4, [_shape(r) for r in errors]
    assert any(r.content == b"" for r in errors)
    assert all(r.headers.get("x-hubspot-correlation-id") for r in errors + limited)
    assert len({_shape(r) for r in limited}) == 3 and all(r.json()["policyName"] for r in limited)
    assert len({_shape(r) for r in humbly}) == 3


def check_fields_disappear_or_turn_null(server: SandboxServer) -> None:
    """Some leads lack `fax` or carry `jobTitle: null`; some conversions lack `email` or carry a null
    `previous_page` (facts.md: accept a missing optional field)."""
    with httpx.Client(base_url=server.base_url) as client:
        leads = list(all_leads(client, ms(server)).values())
        records = conversions(client, "2026-11-01", "2026-11-15")
    assert any("fax" not in lead for lead in leads) and any(lead["jobTitle"] is None for lead in leads)
    assert any("email" not in r for r in records) and any(r["previous_page"] is None for r in records)


# --- 7. admin off the vendor port ---------------------------------------------------------------------------


def check_admin_off_the_vendor_port(server: SandboxServer) -> None:
    """Nothing sent to the vendor port reaches /_sandbox/*: the clock, faults and counters stay as they were;
    the admin listener (server.admin_url) serves them."""
    assert server.admin_url != server.base_url
    before = server.config.today
    with httpx.Client(base_url=server.base_url) as vendor:
        assert vendor.get("/_sandbox/stats").status_code == 404
        assert vendor.post("/_sandbox/clock", json={"today": "2027-01-01"}).status_code == 404
        assert vendor.post("/_sandbox/faults", json={"spec": "*:status=500"}).status_code == 404
        assert vendor.post("/_sandbox/reset").status_code == 404
    assert server.config.today == before and server.app.faults.rules == []
    assert server.stats()["by_vendor"] == {"unknown": 4}
    with httpx.Client(base_url=server.admin_url) as admin:
        assert admin.get("/_sandbox/stats").json()["total"] == 4
        assert admin.post("/_sandbox/clock", json={"today": "2026-11-21"}).json() == {"today": "2026-11-21"}
        assert admin.get("/_sandbox/now").json() == {"now": server.now().isoformat()}
        assert admin.get("/leads/v1/list").status_code == 404  # and no vendor API on the admin port


# --- the table: each check, the config it runs on, and the switch that turns it kind -------------------------


@dataclass(frozen=True)
class Behaviour:
    check: Callable[[SandboxServer], None]
    off: dict[str, Any]  # the kind value of this behaviour's switch(es)
    config: dict[str, Any] = field(default_factory=dict)  # scale for the check (same for hard and off)

    @property
    def name(self) -> str:
        return self.check.__name__.removeprefix("check_")


SMALL_LEADS = {"leads_per_day": 20, "history_days": 60}
BEHAVIOURS = [
    Behaviour(check_clock_moves_during_a_run, {"clock_step_ms": 0}, {**SMALL_LEADS, "clock_step_ms": 600_000}),
    Behaviour(
        check_leads_edited_and_deleted_mid_run, {"leads_churn_per_hour": 0.0}, {**SMALL_LEADS, "clock_step_ms": 600_000}
    ),
    Behaviour(check_conversions_arrive_mid_run, {"conversions_arrive_intraday": False}, {"clock_step_ms": 600_000}),
    Behaviour(check_scan_time_for_long_drilldowns, {"hubspot_scan_time_drilldown_days": None}),
    Behaviour(check_monthly_quota_within_a_long_backfill, {"attributionhub_monthly_quota": None}),
    Behaviour(check_humblytics_429_with_and_without_retry_after, {"humblytics_retry_after_share": 1.0}),
    Behaviour(check_hubspot_daily_limit, {"hubspot_daily_limit": None}, {"hubspot_daily_limit": DAILY_BUDGET}),
    Behaviour(
        check_refused_requests_count_toward_the_window,
        {"rate_limits_count_refused": False},
        {"hubspot_rate_limit": (3, 1.0)},
    ),
    Behaviour(check_conversions_up_to_three_days_late, {"late_conversion_days": 2}),
    Behaviour(check_restated_days_go_down, {"restate_can_drop": False}),
    Behaviour(check_reports_larger_than_one_total_page, {"hubspot_large_report_values": None}),
    Behaviour(
        check_more_than_a_page_of_leads_share_one_millisecond,
        {"leads_bulk_edit_size": 0},
        {"leads_per_day": 20, "history_days": 150},  # the bulk edit stamps leads older than the churn window
    ),
    Behaviour(check_today_is_partial, {"today_partial": False}, {"clock_step_ms": 600_000}),
    Behaviour(check_error_bodies_vary, {"error_variants": False}),
    Behaviour(check_fields_disappear_or_turn_null, {"field_variants": False}, SMALL_LEADS),
    Behaviour(check_admin_off_the_vendor_port, {"separate_admin_port": False}),
]


@pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=lambda b: b.name)
def test_hard_sandbox(behaviour: Behaviour, sandbox_factory: Factory) -> None:
    behaviour.check(sandbox_factory(**behaviour.config))


@pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=lambda b: b.name)
def test_each_check_fails_with_its_switch_off(behaviour: Behaviour, sandbox_factory: Factory) -> None:
    """The check is not vacuous: with its one switch back at the kind default, it fails."""
    assert all(getattr(SandboxConfig(), key) == value for key, value in behaviour.off.items()), "not the default"
    with pytest.raises(AssertionError):
        behaviour.check(sandbox_factory(**{**behaviour.config, **behaviour.off}))


def test_every_hard_switch_has_a_check() -> None:
    """Each field of HARD is a behaviour checked above (or a scale knob of one), and differs from the default."""
    checked = {key for b in BEHAVIOURS for key in b.off} | {"clock_start_s", "humblytics_rate_limit"}
    assert set(HARD) == checked
    kind = SandboxConfig()
    assert all(getattr(kind, key) != value for key, value in HARD.items())


def test_hard_config_helper_and_fixture(sandbox: SandboxServer) -> None:
    assert HARD["hubspot_daily_limit"] == 650_000
    assert SandboxConfig.hard(seed=7).seed == 7 and SandboxConfig.hard().today_partial
    assert all(getattr(sandbox.config, key) == value for key, value in HARD.items())
    assert sandbox.now() == pendulum.datetime(2026, 11, 20, 2, tz="UTC")  # the nightly's hour
    assert math.isclose(sandbox.config.clock_step_ms / 1000, 60)


@pytest.mark.kind_sandbox
@pytest.mark.sandbox_config(leads_per_day=3)
def test_the_kind_marker_starts_the_kind_sandbox(sandbox: SandboxServer, sandbox_factory: Factory) -> None:
    """The fixtures are hard unless a test asks for the kind sandbox; `sandbox_config` still applies on top."""
    kind = SandboxConfig()
    for server in (sandbox, sandbox_factory()):
        assert all(getattr(server.config, key) == getattr(kind, key) for key in HARD)
        assert server.admin_url == server.base_url and server.now() == pendulum.datetime(2026, 11, 20, tz="UTC")
    assert sandbox.config.leads_per_day == 3


def test_leads_at_a_moving_now_equal_a_world_built_at_that_now() -> None:
    """The cheap derivation of a later now (Snapshot.advanced) answers exactly as a snapshot built from scratch."""
    import dataclasses

    from sandbox.hubspot_common import day_start_ms
    from sandbox.hubspot_leads_world import Snapshot, WorldKey

    config = SandboxConfig.hard(today=TODAY, leads_per_day=20, history_days=60, leads_churn_per_hour=30.0)
    config = dataclasses.replace(config, world_start=TODAY.subtract(days=60))
    key, day = WorldKey.of(config), day_start_ms(TODAY.toordinal())
    base = Snapshot(key, day, track_until=day + 86_400_000)
    assert base.upcoming, "some leads have an event later today"
    for hour in (2, 9, 23):
        now = day + hour * 3_600_000 + 123
        derived, fresh = Snapshot.advanced(base, now), Snapshot(key, now)
        assert derived.count == fresh.count > base.count
        assert derived.values == fresh.values and derived.deleted == fresh.deleted
        for pivot in ("lastModifiedAt", "insertedAt", "closedAt"):
            for deleted in (True, False):
                assert derived.index(pivot, deleted) == fresh.index(pivot, deleted)


def test_a_stopped_clock_stays_where_it_stood(sandbox: SandboxServer) -> None:
    """`configure(clock_step_ms=0)` stops the moving clock at its current minute; `set_today` restarts the day."""
    with httpx.Client(base_url=sandbox.base_url) as client:
        tick(client, 5)
        assert sandbox.now() == pendulum.datetime(2026, 11, 20, 2, 5, tz="UTC")
        sandbox.configure(clock_step_ms=0)
        tick(client, 5)
        assert sandbox.now() == pendulum.datetime(2026, 11, 20, 2, 5, tz="UTC")
    sandbox.set_today(TODAY)
    assert sandbox.now() == pendulum.datetime(2026, 11, 20, 2, tz="UTC")
    with pytest.raises(ValueError, match="separate_admin_port"):
        sandbox.configure(separate_admin_port=False)
