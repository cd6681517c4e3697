"""Fault injection, as an httpx client sees it, and the spec grammar documented in sandbox/faults.py."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from sandbox.core import HUBSPOT_TOKEN
from sandbox.faults import FaultRule, Faults, FaultSpecError, parse_spec
from sandbox.server import SandboxServer

AUTH = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
LEADS = "/leads/v1/list"
LEADS_PARAMS = {"access_token": HUBSPOT_TOKEN, "max": 20}
SOURCES = "/analytics/v2/reports/sources/daily?start=20261101&end=20261105"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=5) as c:
        yield c


def leads_status(client: httpx.Client, n: int) -> list[int]:
    return [client.get(LEADS, params=LEADS_PARAMS).status_code for _ in range(n)]


# --- grammar ----------------------------------------------------------------------------------------------


def test_spec_examples_parse() -> None:
    rules = parse_spec(
        "hubspot_leads:status=503,count=2;hubspot_analytics:status=429,count=3,retry_after=1;"
        "humblytics:latency=100,jitter=20;*:drop,nth=5;hubspot:new_field=x,parent=breakdown;"
        "hubspot_leads:type_change=insertedAt,path=/leads;attributionhub:slow=2,p=0.5;humblytics:truncate,start=3"
    )
    assert rules[0] == FaultRule("hubspot_leads", "status", status=503, count=2)
    assert rules[1].retry_after == 1 and rules[1].count == 3
    assert (rules[2].latency_ms, rules[2].jitter_ms) == (100, 20)
    assert (rules[3].target, rules[3].action, rules[3].start, rules[3].count) == ("*", "drop", 5, 1)
    assert (rules[4].field_name, rules[4].parent) == ("x", "breakdown")
    assert rules[5].path == "/leads" and rules[6].probability == 0.5 and rules[7].start == 3
    assert parse_spec("") == [] and parse_spec(" ; ") == []


@pytest.mark.parametrize(
    "spec",
    [
        "nobody:status=500",  # unknown target
        "hubspot_leads:count=2",  # no action
        "hubspot_leads:drop,truncate",  # two actions
        "hubspot_leads:status=abc",
        "hubspot_leads:drop,nth=2,count=3",
        "hubspot_leads:new_field=x",  # no parent
        "hubspot_leads:wobble",
        "status=500",  # no target
        "hubspot_leads:status=429,policy=WEEKLY",  # not a HubSpot policy
        "hubspot_leads:status=429,policy",  # no value
        "hubspot_leads:status=500,policy=DAILY",  # policy is a 429's
        "hubspot_leads:latency=10,policy=DAILY",
        "humblytics:status=429,policy=DAILY",  # policyName is HubSpot's
        "*:status=429,policy=DAILY",
    ],
)
def test_bad_specs_are_rejected(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_spec(spec)


# --- status bursts ------------------------------------------------------------------------------------------


def test_status_burst_count_exactly_n_then_ok(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:status=503,count=2")
    assert leads_status(client, 4) == [503, 503, 200, 200]
    assert client.get(SOURCES, headers=AUTH).status_code == 200  # other vendors untouched


def test_status_burst_starting_at_the_kth_request(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:status=500,start=3,count=2")
    assert leads_status(client, 6) == [200, 200, 500, 500, 200, 200]
    sandbox.set_faults("hubspot_leads:status=500,start=3,count=2")  # replacing resets the counters
    assert leads_status(client, 3) == [200, 200, 500]


def test_status_without_count_never_recovers(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:status=500")
    assert leads_status(client, 5) == [500] * 5


def test_429_with_and_without_retry_after(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_analytics:status=429,count=1,retry_after=2;hubspot_leads:status=429,count=1")
    with_header = client.get(SOURCES, headers=AUTH)
    assert with_header.status_code == 429 and with_header.headers["Retry-After"] == "2"
    assert with_header.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    without = client.get(LEADS, params=LEADS_PARAMS)
    assert without.status_code == 429 and "retry-after" not in without.headers


@pytest.mark.sandbox_config(error_variants=False)  # the documented body exactly, not its variants
def test_daily_policy_429_from_the_kth_request(sandbox: SandboxServer, client: httpx.Client) -> None:
    """facts.md: 429 bodies carry policyName (TEN_SECONDLY_ROLLING, DAILY); Retry-After is not always sent."""
    sandbox.set_faults("hubspot_leads:status=429,policy=DAILY,start=3")
    assert leads_status(client, 2) == [200, 200]
    daily = [client.get(LEADS, params=LEADS_PARAMS) for _ in range(2)]
    for response in daily:
        body = response.json()
        assert response.status_code == 429 and "retry-after" not in response.headers
        assert list(body) == ["status", "message", "errorType", "correlationId", "policyName", "requestId"]
        assert (body["status"], body["errorType"], body["policyName"]) == ("error", "RATE_LIMIT", "DAILY")
        assert body["message"] == "You have reached your daily limit."
        assert UUID.match(body["correlationId"]) and UUID.match(body["requestId"])
        assert response.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]
    assert daily[0].json()["correlationId"] != daily[1].json()["correlationId"]  # one id per response
    assert client.get(SOURCES, headers=AUTH).status_code == 200  # only the leads simulator is limited


def test_policy_parses_and_defaults_to_ten_secondly(sandbox: SandboxServer, client: httpx.Client) -> None:
    assert parse_spec("hubspot_leads:status=429,policy=daily,start=3") == [
        FaultRule("hubspot_leads", "status", status=429, start=3, policy="DAILY")
    ]
    sandbox.set_faults("hubspot:status=429,count=1,policy=TEN_SECONDLY_ROLLING;hubspot_leads:status=429,count=1")
    for response in (client.get(SOURCES, headers=AUTH), client.get(LEADS, params=LEADS_PARAMS)):
        body = response.json()
        assert response.status_code == 429 and body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        assert response.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]


def test_policy_over_the_admin_endpoint(sandbox: SandboxServer, client: httpx.Client) -> None:
    rules = {"rules": [{"target": "hubspot", "status": 429, "policy": "DAILY", "count": 1}]}
    admin = sandbox.admin_url + "/_sandbox/faults"
    assert httpx.post(admin, json=rules).json()["rules"][0]["policy"] == "DAILY"
    assert client.get(SOURCES, headers=AUTH).json()["policyName"] == "DAILY"
    refused = httpx.post(admin, json={"spec": "hubspot:status=429,policy=HOURLY"})
    assert refused.status_code == 400 and "policy" in refused.json()["error"]


def test_injected_hubspot_errors_carry_the_correlation_header(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_analytics:status=500,count=1;hubspot_leads:status=404,count=1")
    for response in (client.get(SOURCES, headers=AUTH), client.get(LEADS, params=LEADS_PARAMS)):
        correlation = response.json()["correlationId"]
        assert UUID.match(correlation) and response.headers["X-HubSpot-Correlation-Id"] == correlation


def test_injected_ids_repeat_run_to_run(sandbox_factory: Any) -> None:
    def ids() -> list[str]:  # every body with its requestId: variants may leave it out
        server = sandbox_factory(faults="hubspot_leads:status=429,policy=DAILY", error_variants=False)
        with httpx.Client(base_url=server.base_url) as c:
            return [c.get(LEADS, params=LEADS_PARAMS).json()["requestId"] for _ in range(3)]

    first = ids()
    assert len(set(first)) == 3 and ids() == first


def test_gateway_errors_come_as_html(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:status=502,count=1")
    response = client.get(LEADS, params=LEADS_PARAMS)
    assert response.status_code == 502 and response.headers["content-type"] == "text/html"
    with pytest.raises(ValueError):
        response.json()


def test_nth_fails_exactly_one_request_counted_across_vendors(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("*:status=500,nth=3")
    statuses = []
    for i in range(5):
        url, kwargs = (SOURCES, {"headers": AUTH}) if i % 2 else (LEADS, {"params": LEADS_PARAMS})
        statuses.append(client.get(url, **kwargs).status_code)
    assert statuses == [200, 200, 500, 200, 200]
    assert [e["faults"] for e in sandbox.request_log][2] == ["status=500"]


def test_hubspot_target_and_path_filter(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot:status=503,path=/analytics/v2/reports/sources")
    assert client.get(SOURCES, headers=AUTH).status_code == 503
    assert client.get("/analytics/v2/reports/pages/total?start=20261101&end=20261101", headers=AUTH).status_code == 200
    assert leads_status(client, 1) == [200]


def test_probability_is_seeded(sandbox_factory: Any) -> None:
    def pattern() -> list[int]:
        server = sandbox_factory(faults="hubspot_leads:status=500,p=0.5")
        with httpx.Client(base_url=server.base_url) as c:
            return leads_status(c, 20)

    first = pattern()
    assert 200 in first and 500 in first
    assert pattern() == first


# --- broken deliveries ------------------------------------------------------------------------------------


def test_drop_closes_the_connection_mid_body(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:drop,nth=2")
    assert leads_status(client, 1) == [200]
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(LEADS, params=LEADS_PARAMS)
    assert leads_status(client, 1) == [200]  # a new connection works again


def test_truncate_sends_invalid_json_with_matching_length(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:truncate,count=1")
    response = client.get(LEADS, params=LEADS_PARAMS)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content) > 0
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)
    assert client.get(LEADS, params=LEADS_PARAMS).json()  # then whole again


def test_slow_exceeds_a_short_client_timeout(sandbox: SandboxServer) -> None:
    sandbox.set_faults("hubspot_leads:slow=1,count=1")
    with httpx.Client(base_url=sandbox.base_url, timeout=0.2) as c, pytest.raises(httpx.ReadTimeout):
        c.get(LEADS, params=LEADS_PARAMS)
    with httpx.Client(base_url=sandbox.base_url, timeout=5) as c:
        assert c.get(LEADS, params=LEADS_PARAMS).status_code == 200


def test_latency_with_jitter(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:latency=150,jitter=50")
    for _ in range(3):
        started = time.perf_counter()
        assert client.get(LEADS, params=LEADS_PARAMS).status_code == 200
        # Only the lower bound is timing-proof; the jitter's bounds are pinned on the seeded plan below.
        assert time.perf_counter() - started >= 0.15
    faults = Faults("hubspot_leads:latency=150,jitter=50", seed=42)
    delays = [faults.plan("hubspot_leads", LEADS).delay_s for _ in range(50)]
    assert all(0.15 <= d <= 0.2 for d in delays) and len(set(delays)) > 1


# --- drift --------------------------------------------------------------------------------------------------


def test_new_field_appears_in_every_record(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_analytics:new_field=channelGroup,parent=breakdown")
    body = client.get(SOURCES, headers=AUTH).json()
    rows = [row for rows in body.values() for row in rows]
    assert rows and all(row["channelGroup"] == "drifted" for row in rows)


def test_type_change_turns_numbers_into_strings(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_analytics:type_change=visits;hubspot_leads:type_change=insertedAt")
    rows = [row for rows in client.get(SOURCES, headers=AUTH).json().values() for row in rows]
    with_visits = [row for row in rows if "visits" in row]
    assert with_visits and all(isinstance(row["visits"], str) and row["visits"].isdigit() for row in with_visits)
    leads = client.get(LEADS, params=LEADS_PARAMS).json()
    assert leads and all(isinstance(lead["insertedAt"], str) for lead in leads)


def test_drift_leaves_errors_alone(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:new_field=x,parent=status")
    denied = client.get(LEADS)  # no access_token: a 401 whose body has the parent key "status"
    assert denied.status_code == 401 and denied.json()["status"] == "error"
    assert "x" not in denied.json()  # the 401 body keeps its shape
    assert sandbox.request_log[-1]["faults"] == ["new_field"]  # the rule did fire on it


def test_drop_field_removes_the_key_everywhere(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Drift: a field disappears (issue 18: drift used to only add fields or turn numbers into strings)."""
    assert all("jobTitle" in lead for lead in client.get(LEADS, params=LEADS_PARAMS).json())
    sandbox.set_faults("hubspot_leads:drop_field=jobTitle;hubspot_analytics:drop_field=visits")
    leads = client.get(LEADS, params=LEADS_PARAMS).json()
    assert leads and all("jobTitle" not in lead and "email" in lead for lead in leads)
    rows = [row for rows in client.get(SOURCES, headers=AUTH).json().values() for row in rows]
    assert rows and all("visits" not in row and "breakdown" in row for row in rows)


def test_null_field_turns_every_value_null(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:null_field=analyticsDetails")
    leads = client.get(LEADS, params=LEADS_PARAMS).json()
    assert leads and all("analyticsDetails" in lead and lead["analyticsDetails"] is None for lead in leads)
    assert parse_spec("hubspot_leads:null_field=x,count=2") == [
        FaultRule("hubspot_leads", "null_field", field_name="x", count=2)
    ]
    with pytest.raises(FaultSpecError):
        parse_spec("hubspot_leads:drop_field")


@pytest.mark.sandbox_config(error_variants=False)  # the kind rule itself
def test_injected_errors_keep_one_shape_without_variants(sandbox: SandboxServer, client: httpx.Client) -> None:
    """The kind default: every injected 500 has the same body shape (hard: sandbox/variants.py rotates them)."""
    sandbox.set_faults("hubspot_analytics:status=500,count=4")
    bodies = [client.get(SOURCES, headers=AUTH).json() for _ in range(4)]
    assert {tuple(sorted(b)) for b in bodies} == {("correlationId", "message", "status")}


def test_new_object_adds_a_nested_object(sandbox: SandboxServer, client: httpx.Client) -> None:
    """Drift: a nested object appears (issue 18, scenario 4); it is not walked into, so parent=id terminates."""
    sandbox.set_faults("hubspot_leads:new_object=segment,parent=guid;hubspot_analytics:new_object=meta,parent=id")
    leads = client.get(LEADS, params=LEADS_PARAMS).json()
    assert leads and all(lead["segment"] == {"id": 1, "label": "drifted"} for lead in leads)
    events = [event for lead in leads for event in lead["leadConversionEvents"]]
    assert events and all(event["segment"] == {"id": 1, "label": "drifted"} for event in events)  # they have guids
    assert client.get(SOURCES, headers=AUTH).status_code == 200
    with pytest.raises(FaultSpecError):
        parse_spec("hubspot_leads:new_object=x")


def test_type_change_with_a_prefix_makes_text_that_is_no_number(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.set_faults("hubspot_leads:type_change=leadId,prefix=L-")
    leads = client.get(LEADS, params=LEADS_PARAMS).json()
    assert leads and all(lead["leadId"].startswith("L-") and lead["leadId"][2:].isdigit() for lead in leads)
    with pytest.raises(FaultSpecError):
        parse_spec("hubspot_leads:drop_field=x,prefix=L-")
