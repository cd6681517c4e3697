"""`classify` and `HumblyticsApi` against the Humblytics simulator in-process (httpx MockTransport, no socket):
the reading of `end` is learned once and answers are exact under both readings; 403s say which one."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pendulum
import pytest

from sandbox.core import HUMBLYTICS_KEY, HUMBLYTICS_KEY_NO_METRICS, HUMBLYTICS_PROPERTY, SandboxConfig, SandboxRequest
from sandbox.humblytics import HumblyticsSim
from sources.common.errors import AuthError, BadRequestError, LimitExceededError, ResponseFormatError
from sources.common.stats import RUN_STATS
from sources.common.windows import DateWindow, fetch_with_split
from sources.humblytics.api import HumblyticsApi, Refused
from sources.humblytics.client import classify, humblytics_client
from sources.humblytics.parse import CLICKS, FORMS
from sources.humblytics.ranges import EndReading

BASE = "https://sim.test/api/external/v1"
CONFIG = SandboxConfig(today=pendulum.date(2026, 11, 20), seed=42)
INCLUSIVE = replace(CONFIG, humblytics_end_inclusive=True)
DAY = pendulum.date(2026, 11, 12)
DAYS = DateWindow(pendulum.date(2026, 11, 10), pendulum.date(2026, 11, 19))
NY = "America/New_York"


class Sim:
    """A transport answering like the sandbox would, recording every request it saw."""

    def __init__(self, config: SandboxConfig, rewrite: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.rewrite = rewrite
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        target = request.url.raw_path.decode()
        answer = HumblyticsSim().handle(SandboxRequest.build("GET", target, dict(request.headers)), self.config)
        body = answer.body
        if self.rewrite is not None and answer.status == 200:
            payload = orjson.loads(body)
            self.rewrite(payload)
            body = orjson.dumps(payload)
        return httpx.Response(answer.status, content=body, headers=answer.headers)

    def ends(self) -> list[str]:
        return [r.url.params["end"] for r in self.requests]


def make_api(
    sim: Sim, *, key: str = HUMBLYTICS_KEY, prop: str = HUMBLYTICS_PROPERTY, tz: str = "UTC", limit: int = 50
) -> HumblyticsApi:
    client = humblytics_client(key, BASE)
    client._http._transport = httpx.MockTransport(sim)
    return HumblyticsApi(client, property_id=prop, timezone=tz, limit=limit)


@pytest.fixture(autouse=True)
def _clean_stats() -> None:
    RUN_STATS.reset()


# --- classify ------------------------------------------------------------------------------------------


def _response(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("GET", f"{BASE}/properties/p/traffic/trends"))


def test_range_too_large_splits_other_400s_do_not() -> None:
    verdict = classify(_response(400, {"error": "invalid_request", "message": "range too large: more than 500"}))
    assert verdict is not None and verdict.kind is LimitExceededError
    assert classify(_response(400, {"error": "invalid_request", "message": "end must be after start"})) is None


def test_403s_and_401_are_auth_errors_naming_what_to_fix() -> None:
    metrics = classify(
        _response(403, {"error": "forbidden", "message": "API key does not have the metrics permission."})
    )
    other = classify(_response(403, {"error": "forbidden", "message": "Property ID does not match the API key."}))
    unknown = classify(_response(403, {"error": "forbidden", "message": "nope"}))
    bad_key = classify(_response(401, {"error": "unauthorized", "message": "Missing or invalid API key header."}))
    assert metrics and other and unknown and bad_key
    assert {v.kind for v in (metrics, other, unknown, bad_key)} == {AuthError}
    assert "`metrics` permission" in metrics.what and "SOURCES__HUMBLYTICS__API_KEY" in metrics.todo
    assert "property" in other.what and "SOURCES__HUMBLYTICS__PROPERTY_ID" in other.todo
    assert "SOURCES__HUMBLYTICS__PROPERTY_ID" in unknown.todo and "SOURCES__HUMBLYTICS__API_KEY" in unknown.todo
    assert bad_key.todo == "check SOURCES__HUMBLYTICS__API_KEY."


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_left_to_the_retry_loop(status: int) -> None:
    assert (
        classify(_response(status, {"error": "rate_limited", "message": "Too many requests in a short window."}))
        is None
    )


# --- the reading of `end` ------------------------------------------------------------------------------


def test_exclusive_reading_one_request_per_aggregate() -> None:
    sim = Sim(CONFIG)
    api = make_api(sim)
    rows = api.traffic_breakdown(DAY)
    assert rows and {r["date"] for r in rows} == {DAY}
    assert api.page_breakdown(CLICKS, DAY) and api.page_breakdown(FORMS, DAY)
    assert sim.ends() == ["2026-11-13"] * 3
    assert api.reading is EndReading.EXCLUSIVE


def test_inclusive_reading_is_learned_from_the_first_answer_and_gives_the_same_rows() -> None:
    exclusive = make_api(Sim(CONFIG))
    sim = Sim(INCLUSIVE)
    api = make_api(sim)
    assert api.traffic_breakdown(DAY) == exclusive.traffic_breakdown(DAY)
    assert sim.ends() == ["2026-11-13", "2026-11-12"]  # guessed exclusive, meta said otherwise: asked again
    assert api.reading is EndReading.INCLUSIVE
    assert api.page_breakdown(CLICKS, DAY) == exclusive.page_breakdown(CLICKS, DAY)
    assert api.details(FORMS, DAY, "/contact us/") == exclusive.details(FORMS, DAY, "/contact us/")
    assert sim.ends()[2:] == ["2026-11-12", "2026-11-12"]  # from then on one request each


def test_trends_are_the_same_days_under_both_readings() -> None:
    exclusive = make_api(Sim(CONFIG), tz=NY).trends(DAYS)
    sim = Sim(INCLUSIVE)
    inclusive = make_api(sim, tz=NY).trends(DAYS)
    assert [r["date"] for r in exclusive.rows] == [DAYS.start.add(days=i) for i in range(10)]
    assert inclusive.rows == exclusive.rows
    assert len(sim.requests) == 1  # buckets are filtered, not asked again
    assert exclusive.unexpected == []  # the empty trailing bucket is the documented exclusive reading
    assert [r["bucket"].isoformat() for r in inclusive.unexpected] == ["2026-11-20T05:00:00+00:00"]
    assert (exclusive.reading, inclusive.reading) == (EndReading.EXCLUSIVE, EndReading.INCLUSIVE)


def test_a_wrongly_known_reading_is_corrected_for_bucketed_answers_too() -> None:
    sim = Sim(CONFIG)
    api = make_api(sim)
    api._reading = EndReading.INCLUSIVE  # as if an earlier answer had said so
    api._probed.set()
    rows = api.trends(DAYS).rows
    assert sim.ends() == ["2026-11-19", "2026-11-20"]  # the first answer stopped a day short
    assert [r["date"] for r in rows][-1] == DAYS.end and api.reading is EndReading.EXCLUSIVE


def test_the_first_request_goes_alone_so_only_it_is_asked_twice() -> None:
    sim = Sim(INCLUSIVE)
    api = make_api(sim)
    days = [DAY.add(days=i) for i in range(6)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(api.traffic_breakdown, days))
    assert len(sim.requests) == len(days) + 1


@pytest.mark.parametrize(
    ("rewrite", "needle"),
    [
        (lambda p: p["meta"].update(timezone="Europe/Paris"), "meta.timezone"),
        (lambda p: p["meta"].update(start="2026-11-11T00:00:00.000Z"), "meta.start"),
        (lambda p: p["meta"].update(end="2026-11-30T23:59:59.000Z"), "meta.end"),
        (lambda p: p["meta"].update(property_id="someone-else"), "meta.property_id"),
    ],
)
def test_an_answer_for_other_days_is_refused(rewrite: Callable[[dict[str, Any]], None], needle: str) -> None:
    api = make_api(Sim(CONFIG, rewrite))
    with pytest.raises(ResponseFormatError, match=needle) as caught:
        api.traffic_breakdown(DAY)
    assert caught.value.endpoint == "traffic/breakdown" and "traffic/breakdown" in str(caught.value)


def test_an_answer_without_meta_is_taken_as_asked() -> None:
    api = make_api(Sim(CONFIG, lambda p: p.pop("meta")))
    assert api.traffic_breakdown(DAY) and api.reading is None


# --- requests ------------------------------------------------------------------------------------------


def test_details_page_is_percent_encoded_as_the_document_shows() -> None:
    sim = Sim(CONFIG)
    rows = make_api(sim).details(FORMS, DAY, "/contact us/")
    assert rows and {r["page"] for r in rows} == {"/contact us/"}
    raw = sim.requests[0].url.raw_path.decode()
    assert raw.startswith(f"/api/external/v1/properties/{HUMBLYTICS_PROPERTY}/forms/details?")
    assert "page=%2Fcontact%20us%2F" in raw and "+" not in raw
    assert "limit=50" in raw and "granularity=day" in raw and "timezone=UTC" in raw


def test_traffic_requests_send_only_documented_parameters() -> None:
    sim = Sim(CONFIG)
    api = make_api(sim)
    api.trends(DAYS)
    api.traffic_breakdown(DAY)
    trends, breakdown = (dict(r.url.params) for r in sim.requests)
    assert set(trends) == {"start", "end", "timezone", "granularity"}  # no `limit` on trends
    assert set(breakdown) == {"start", "end", "timezone", "limit"}  # no `granularity` on traffic/breakdown


def test_range_too_large_is_split_by_the_shared_core() -> None:
    sim = Sim(replace(CONFIG, humblytics_bucket_limit=4))
    api = make_api(sim)
    pieces = fetch_with_split(DAYS, api.trends, vendor="humblytics", what="traffic/trends")
    spans = ["2026-11-10..2026-11-12", "2026-11-13..2026-11-14", "2026-11-15..2026-11-17", "2026-11-18..2026-11-19"]
    assert [str(w) for w, _ in pieces] == spans  # at most 3 days: 4 buckets with the trailing one
    assert [r["date"] for _, answer in pieces for r in answer.rows] == [DAYS.start.add(days=i) for i in range(10)]
    assert RUN_STATS.snapshot()["splits"]["humblytics"] == 3


# --- auth ----------------------------------------------------------------------------------------------


def test_key_without_metrics_permission_stops_every_later_call_without_a_request() -> None:
    sim = Sim(CONFIG)
    api = make_api(sim, key=HUMBLYTICS_KEY_NO_METRICS)
    with pytest.raises(AuthError) as first:
        api.trends(DAYS)
    message = str(first.value)
    assert message.startswith("humblytics refused an API key without the `metrics` permission (403) on traffic/trends")
    assert "SOURCES__HUMBLYTICS__API_KEY" in message and HUMBLYTICS_KEY_NO_METRICS not in message
    with pytest.raises(Refused) as second:
        api.page_breakdown(CLICKS, DAY)
    assert second.value.refusal is first.value and len(sim.requests) == 1


def test_other_property_names_the_property_setting() -> None:
    api = make_api(Sim(CONFIG), prop="someone-elses-property")
    with pytest.raises(AuthError, match="SOURCES__HUMBLYTICS__PROPERTY_ID") as caught:
        api.traffic_breakdown(DAY)
    assert "Property ID does not match the API key" in str(caught.value)


def test_unknown_key_is_401_naming_the_key_setting() -> None:
    with pytest.raises(AuthError, match=r"rejected the API key \(401\)"):
        make_api(Sim(CONFIG), key="not-a-key").traffic_breakdown(DAY)


def test_other_400s_are_not_retried_or_split() -> None:
    sim = Sim(CONFIG)
    api = make_api(sim, tz="Mars/Olympus_Mons")  # the source refuses this before; here the vendor does
    with pytest.raises(BadRequestError, match="Unsupported timezone"):
        api.traffic_breakdown(DAY)
    assert len(sim.requests) == 1
