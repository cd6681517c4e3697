"""The sandbox server: routing, admin endpoints, stats and request log, keep-alive, vendor rate limits, and the
foreground `serve()` the CLI runs."""

from __future__ import annotations

import http.client
import time
from typing import Any

import httpx
import pytest

from sandbox.core import HUBSPOT_TOKEN, HUMBLYTICS_KEY, HUMBLYTICS_PROPERTY
from sandbox.server import SandboxServer
from tests.sandbox.support import fake_clock_limits, serving

AUTH = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
EXISTS = "/analytics/v2/reports/sources/exists"
HUBSPOT_429 = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
               "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}  # fmt: skip


def test_fresh_sandbox_has_seen_no_request(sandbox: SandboxServer) -> None:
    assert sandbox.request_log == []
    assert sandbox.stats()["total"] == 0


def test_unknown_path_is_404_json(sandbox: SandboxServer) -> None:
    response = httpx.get(f"{sandbox.base_url}/v3/whatever")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_url_for(sandbox: SandboxServer) -> None:
    assert sandbox.base_url.startswith("http://127.0.0.1:")
    assert sandbox.url_for("hubspot_leads") == sandbox.url_for("attributionhub") == sandbox.base_url
    assert sandbox.url_for("humblytics") == sandbox.base_url + "/api/external/v1"


def test_stats_and_log_count_requests_and_mask_the_token(sandbox: SandboxServer) -> None:
    with httpx.Client(base_url=sandbox.base_url) as client:
        for _ in range(3):
            client.get("/leads/v1/list", params={"access_token": HUBSPOT_TOKEN, "max": 1})
        client.get(EXISTS, headers=AUTH)
        client.get(EXISTS)  # 401
        stats = httpx.get(sandbox.admin_url + "/_sandbox/stats").json()
    assert stats["total"] == 5
    assert stats["by_vendor"] == {"hubspot_analytics": 2, "hubspot_leads": 3}
    assert stats["by_endpoint"]["hubspot_leads"] == {"GET /leads/v1/list": 3}
    assert stats["by_status"] == {"200": 4, "401": 1}
    assert stats["by_vendor_status"]["hubspot_analytics"] == {"200": 1, "401": 1}
    log = sandbox.request_log
    assert [e["vendor"] for e in log] == ["hubspot_leads"] * 3 + ["hubspot_analytics"] * 2
    assert log[0]["query"] == {"access_token": ["***"], "max": ["1"]} and log[0]["status"] == 200
    assert HUBSPOT_TOKEN not in repr(log)
    sandbox.reset_stats()
    assert sandbox.request_log == [] and sandbox.stats()["total"] == 0


def test_admin_reset_endpoint(sandbox: SandboxServer) -> None:
    httpx.get(sandbox.base_url + EXISTS, headers=AUTH)
    assert httpx.post(sandbox.admin_url + "/_sandbox/reset").status_code == 200
    assert sandbox.stats()["total"] == 0


def test_admin_clock_moves_simulated_today(sandbox: SandboxServer) -> None:
    url = sandbox.admin_url + "/_sandbox/clock"
    params = {"start": "20261121", "end": "20261121"}  # tomorrow: empty (today is partial in the hard sandbox)
    daily = sandbox.base_url + "/analytics/v2/reports/totals/daily"
    assert httpx.get(daily, params=params, headers=AUTH).json() == {"2026-11-21": []}
    response = httpx.post(url, json={"today": "2026-11-22"})
    assert response.status_code == 200 and response.json() == {"today": "2026-11-22"}
    assert sandbox.config.today.isoformat() == "2026-11-22"
    assert httpx.get(daily, params=params, headers=AUTH).json()["2026-11-21"] != []
    assert httpx.post(url, json={"today": "22/11/2026"}).status_code == 400
    assert httpx.post(url, content=b"not json").status_code == 400
    assert sandbox.stats()["total"] == 2  # admin calls are not vendor requests


def test_admin_faults_replace_and_clear(sandbox: SandboxServer) -> None:
    url = sandbox.admin_url + "/_sandbox/faults"
    response = httpx.post(url, json={"spec": "hubspot_leads:status=503,count=1"})
    assert response.status_code == 200 and response.json()["rules"][0]["status"] == 503
    leads = sandbox.base_url + "/leads/v1/list"
    params = {"access_token": HUBSPOT_TOKEN, "max": 1}
    assert [httpx.get(leads, params=params).status_code for _ in range(2)] == [503, 200]
    assert httpx.post(url, json={"rules": [{"target": "hubspot_leads", "status": 500}]}).status_code == 200
    assert httpx.get(leads, params=params).status_code == 500
    assert httpx.post(url, json={}).json() == {"rules": []}
    assert httpx.get(leads, params=params).status_code == 200
    bad = httpx.post(url, json={"spec": "hubspot_leads:explode"})
    assert bad.status_code == 400 and "explode" in bad.json()["error"]


def test_keep_alive_serves_many_requests_on_one_connection(sandbox: SandboxServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    conn.connect()
    sock = conn.sock
    for _ in range(5):
        conn.request("GET", EXISTS, headers=AUTH)
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Content-Length") == str(len(response.read()))
    assert conn.sock is sock  # the same socket: the server kept it open
    conn.close()


def test_stop_closes_kept_alive_connections(sandbox_factory: Any) -> None:
    server = sandbox_factory()
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get(EXISTS, headers=AUTH).status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get(EXISTS, headers=AUTH)


def test_latency_is_added_to_every_vendor_request(sandbox_factory: Any) -> None:
    server = sandbox_factory(latency_ms=120)
    started = time.perf_counter()
    httpx.get(server.base_url + EXISTS, headers=AUTH)
    assert time.perf_counter() - started >= 0.12


@pytest.mark.sandbox_config(leads_per_day=1)
def test_marker_configures_the_fixture(sandbox: SandboxServer) -> None:
    assert sandbox.config.leads_per_day == 1 and sandbox.config.seed == 42


# --- vendor rate limits ---------------------------------------------------------------------------------
# The windows run on a fake clock: with the real one, a loaded CI machine that needs more than the window to
# send the requests would see no 429 (a false failure), and the "window rolls" test would need real sleeps.


@pytest.mark.sandbox_config(error_variants=False)  # the exact documented 429 body, not its variants
def test_hubspot_190_requests_per_10_seconds_across_both_apis_then_429_without_retry_after(
    sandbox: SandboxServer,
) -> None:
    clock = fake_clock_limits(sandbox)
    with httpx.Client(base_url=sandbox.base_url) as client:
        for i in range(190):
            if i % 2:
                response = client.get(EXISTS, headers=AUTH)
            else:
                response = client.get("/leads/v1/list", params={"access_token": HUBSPOT_TOKEN, "max": 1})
            assert response.status_code == 200, i
        for path, kwargs in ((EXISTS, {"headers": AUTH}), ("/leads/v1/list", {"params": {"access_token": "x"}})):
            limited = client.get(path, **kwargs)
            assert limited.status_code == 429
            assert limited.json() == HUBSPOT_429
            assert "retry-after" not in limited.headers  # facts.md: not always sent
        clock.t += 9.9  # still inside the 10 s window
        assert client.get(EXISTS, headers=AUTH).status_code == 429
        clock.t += 0.1  # the first 190 are 10 s old: a full budget again
        assert client.get(EXISTS, headers=AUTH).status_code == 200
    assert sandbox.stats()["by_vendor_status"]["hubspot_analytics"]["429"] == 2


# The kind sliding rule: refused requests counting too is test_hardening's check.
@pytest.mark.sandbox_config(hubspot_rate_limit=(3, 1.0), rate_limits_count_refused=False)
def test_hubspot_window_rolls(sandbox: SandboxServer) -> None:
    clock = fake_clock_limits(sandbox)
    with httpx.Client(base_url=sandbox.base_url, headers=AUTH) as client:

        def status_at(t: float) -> int:
            clock.t = 1000.0 + t
            return client.get(EXISTS).status_code

        assert [status_at(t) for t in (0.0, 0.5, 0.5, 0.9)] == [200, 200, 200, 429]
        # Sliding, not fixed: at 1.0 only the request from 0.0 has left the window.
        assert [status_at(t) for t in (1.0, 1.0, 1.5)] == [200, 429, 200]


# Every 429 with Retry-After (the hard share of 429s without it is test_hardening's check).
@pytest.mark.sandbox_config(humblytics_rate_limit=(2, 5.0), humblytics_retry_after_share=1.0, error_variants=False)
def test_humblytics_rate_limit_sends_retry_after(sandbox: SandboxServer) -> None:
    clock = fake_clock_limits(sandbox)
    url = f"{sandbox.url_for('humblytics')}/properties/{HUMBLYTICS_PROPERTY}/traffic/trends"
    params = {"start": "2026-11-01", "end": "2026-11-02"}
    headers = {"Authorization": f"Bearer {HUMBLYTICS_KEY}"}
    statuses = [httpx.get(url, params=params, headers=headers) for _ in range(2)]
    clock.t += 1.0
    statuses.append(httpx.get(url, params=params, headers=headers))
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    assert statuses[2].status_code == 429 and statuses[2].json()["error"] == "rate_limited"
    assert statuses[2].headers["Retry-After"] == "4"  # the first slot frees 4 s later


def test_all_four_vendors_are_routed(sandbox: SandboxServer) -> None:
    httpx.post(f"{sandbox.base_url}/api/v1/conversions", json={})
    httpx.get(f"{sandbox.url_for('humblytics')}/properties/{HUMBLYTICS_PROPERTY}/traffic/trends")
    httpx.get(sandbox.base_url + EXISTS)
    httpx.get(sandbox.base_url + "/leads/v1/list")
    assert set(sandbox.stats()["by_vendor"]) == {"attributionhub", "humblytics", "hubspot_analytics", "hubspot_leads"}


# --- foreground serve() -----------------------------------------------------------------------------------


def test_serve_prints_the_port_and_stops_on_sigterm() -> None:
    with serving("from sandbox.server import serve; serve(port=0, today='2026-11-20', seed=7)") as proc:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("sandbox listening on http://127.0.0.1:") and "today=2026-11-20, seed=7" in line
        base = line.split()[3]
        assert httpx.get(base + EXISTS, headers=AUTH).status_code == 200


def test_request_log_keeps_the_newest_entries_and_counts_everything() -> None:
    from sandbox.stats import RequestStats

    stats = RequestStats(log_limit=3)
    for n in range(5):
        stats.record("hubspot_leads", method="GET", path=f"/p{n}", query={"access_token": ["t"]}, status=200)
    assert [entry["path"] for entry in stats.log] == ["/p2", "/p3", "/p4"]
    assert stats.snapshot()["total"] == 5
    assert stats.log[0]["query"] == {"access_token": ["***"]}


def test_serve_is_hard_by_default_with_admin_on_its_own_port() -> None:
    """`serve()` (what `marketing-elt sandbox` runs) turns every HARD switch on: the admin endpoints move to a
    second listener, printed on the second line, and the vendor port refuses them; `hard=False` is the old one."""
    with serving("from sandbox.server import serve; serve(port=0, today='2026-11-20', seed=7)") as proc:
        assert proc.stdout is not None
        base = proc.stdout.readline().split()[3]
        admin_line = proc.stdout.readline()
        assert admin_line.startswith("sandbox admin on http://127.0.0.1:"), admin_line
        admin = admin_line.split()[3]
        assert admin != base
        assert httpx.get(base + "/_sandbox/stats").status_code == 404
        assert httpx.get(base + EXISTS, headers=AUTH).status_code == 200
        assert httpx.get(admin + "/_sandbox/now").json() == {"now": "2026-11-20T02:01:00+00:00"}  # one request later
        assert httpx.get(admin + "/_sandbox/stats").json()["total"] == 2


def test_serve_kind_keeps_admin_on_the_vendor_port() -> None:
    with serving("from sandbox.server import serve; serve(port=0, today='2026-11-20', hard=False)") as proc:
        assert proc.stdout is not None
        base = proc.stdout.readline().split()[3]
        assert httpx.get(base + "/_sandbox/now").json() == {"now": "2026-11-20T00:00:00+00:00"}
