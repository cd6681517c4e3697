"""Contract tests for the Humblytics simulator, written from humblytics-external-analytics-api.txt and
facts.md ("Assumed Humblytics response shapes"). Each would fail if the sim were kinder than the vendor."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pendulum
import pytest

from sandbox.core import (
    HUMBLYTICS_KEY,
    HUMBLYTICS_KEY_NO_METRICS,
    HUMBLYTICS_PROPERTY,
    SandboxConfig,
    SandboxRequest,
    SandboxResponse,
)
from sandbox.humblytics import HumblyticsSim

CONFIG = SandboxConfig(today=pendulum.date(2026, 11, 20), seed=42)
BASE = f"/api/external/v1/properties/{HUMBLYTICS_PROPERTY}/"
AUTH = {"Authorization": f"Bearer {HUMBLYTICS_KEY}"}
NO_METRICS = {"Authorization": f"Bearer {HUMBLYTICS_KEY_NO_METRICS}"}
INCLUSIVE = replace(CONFIG, humblytics_end_inclusive=True)
SAMPLE = "traffic/trends?start=2024-05-01&end=2024-05-07&granularity=day&timezone=America/New_York"
OCTOBER = "start=2026-10-01&end=2026-11-01"


def call(
    target: str, *, headers: dict[str, str] | None = None, config: SandboxConfig = CONFIG, method: str = "GET"
) -> SandboxResponse:
    path = target if target.startswith("/") else BASE + target
    return HumblyticsSim().handle(SandboxRequest.build(method, path, AUTH if headers is None else headers), config)


def get(target: str, **kwargs: Any) -> tuple[int, Any]:
    response = call(target, **kwargs)
    return response.status, orjson.loads(response.body)


def ok(target: str, **kwargs: Any) -> dict[str, Any]:
    status, body = get(target, **kwargs)
    assert status == 200, body
    return body


def invalid(target: str) -> str:
    status, body = get(target)
    assert status == 400, body
    assert set(body) == {"error", "message"}  # facts.md: the error shape
    assert body["error"] == "invalid_request" and body["message"]
    return body["message"]


# --- auth ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": HUMBLYTICS_KEY},
        {"Authentication": HUMBLYTICS_KEY},
    ],
)
def test_missing_or_invalid_key_is_401(headers: dict[str, str]) -> None:
    status, body = get(f"traffic/trends?{OCTOBER}", headers=headers)
    assert status == 401 and body["error"] == "unauthorized" and body["message"]


def test_keys_are_property_scoped() -> None:
    status, body = get(f"/api/external/v1/properties/other-property/traffic/trends?{OCTOBER}")
    assert (status, body) == (403, {"error": "forbidden", "message": "Property ID does not match the API key."})


def test_key_without_metrics_permission_is_403() -> None:
    """Document, Errors: 403 also when "the key does not have metrics permission"; a different 403 message."""
    assert HUMBLYTICS_KEY_NO_METRICS == "sandbox-humblytics-key-no-metrics"
    for endpoint in ("traffic/trends", "traffic/breakdown", "clicks/breakdown", "forms/details"):
        status, body = get(f"{endpoint}?{OCTOBER}&page=%2F", headers=NO_METRICS)
        assert status == 403, endpoint
        assert body == {"error": "forbidden", "message": "API key does not have the metrics permission."}
    # the key is property-scoped like any other: the wrong property answers the property 403
    other = get(f"/api/external/v1/properties/other-property/traffic/trends?{OCTOBER}", headers=NO_METRICS)
    assert other == (403, {"error": "forbidden", "message": "Property ID does not match the API key."})
    # a key the sandbox does not know is still 401, and the set of such keys is config
    assert get(f"traffic/trends?{OCTOBER}", headers={"Authorization": "Bearer sandbox-humblytics-key-x"})[0] == 401
    assert (
        get(
            f"traffic/trends?{OCTOBER}", headers=NO_METRICS, config=replace(CONFIG, humblytics_keys_without_metrics=())
        )[0]
        == 401
    )
    ok(f"traffic/trends?{OCTOBER}")  # the full key still reads metrics


def test_unknown_endpoint_and_method() -> None:
    assert call(f"traffic/summary?{OCTOBER}").status == 404  # published but not simulated yet
    assert call(f"traffic/trends?{OCTOBER}", method="POST").status == 405


# --- the range rule --------------------------------------------------------------------------------------


def test_published_sample_meta() -> None:
    """facts.md: the one published response; pins `end` semantics (see the sandbox.humblytics docstring)."""
    body = ok("traffic/trends?start=2024-05-01&end=2024-05-07&granularity=day&timezone=America/New_York")
    assert body["meta"] == {
        "property_id": HUMBLYTICS_PROPERTY,
        "start": "2024-05-01T04:00:00.000Z",
        "end": "2024-05-07T03:59:59.000Z",
        "timezone": "America/New_York",
        "granularity": "day",
        "bucket_count": 7,
    }
    assert [row["bucket"] for row in body["data"]] == [f"2024-05-0{d}T04:00:00.000Z" for d in range(1, 8)]


def test_end_is_exclusive_and_the_trailing_bucket_is_empty() -> None:
    body = ok("traffic/trends?start=2026-10-01&end=2026-10-08")
    assert body["meta"]["end"] == "2026-10-07T23:59:59.000Z"
    assert body["meta"]["bucket_count"] == 8
    assert body["data"][-1] == {"bucket": "2026-10-08T00:00:00.000Z", "pageviews": 0, "unique_visitors": 0}
    next_day = ok("traffic/trends?start=2026-10-08&end=2026-10-09")["data"][0]
    assert next_day["bucket"] == "2026-10-08T00:00:00.000Z" and next_day["pageviews"] > 0
    same = ok("traffic/trends?start=2026-10-01T00:00:00Z&end=2026-10-08T00:00:00.000Z")
    assert same["data"] == body["data"]


def test_bucket_limit_500_vs_501_hourly() -> None:
    start = pendulum.datetime(2026, 6, 1)
    fmt = "YYYY-MM-DDTHH:mm:ss[Z]"
    at_limit = ok(f"traffic/trends?granularity=hour&start={start.format(fmt)}&end={start.add(hours=499).format(fmt)}")
    assert at_limit["meta"]["bucket_count"] == 500 and len(at_limit["data"]) == 500
    message = invalid(
        f"traffic/trends?granularity=hour&start={start.format(fmt)}&end={start.add(hours=500).format(fmt)}"
    )
    assert "range too large" in message


def test_bucket_limit_applies_to_every_endpoint() -> None:
    """The client classifies this 400 on the words "range too large" (document: "ranges that are too large")."""
    assert "range too large" in invalid("clicks/breakdown?granularity=hour&start=2026-09-01&end=2026-10-01")
    assert "range too large" in invalid("forms/details?granularity=hour&start=2026-09-01&end=2026-10-01&page=%2F")
    assert "range too large" in invalid("traffic/breakdown?start=2025-01-01&end=2026-11-01")  # > 500 days
    ok("traffic/trends?granularity=month&start=2025-01-01&end=2026-11-01")


# --- the other reading of `end` (SandboxConfig.humblytics_end_inclusive) ----------------------------------


def test_inclusive_end_reading_of_the_published_sample() -> None:
    body = ok(SAMPLE, config=INCLUSIVE)
    assert body["meta"] == {
        "property_id": HUMBLYTICS_PROPERTY,
        "start": "2024-05-01T04:00:00.000Z",
        "end": "2024-05-08T03:59:59.000Z",  # the last second of 2024-05-07, New York
        "timezone": "America/New_York",
        "granularity": "day",
        "bucket_count": 7,
    }
    assert [row["bucket"] for row in body["data"]] == [f"2024-05-0{d}T04:00:00.000Z" for d in range(1, 8)]


def test_inclusive_end_covers_the_last_day_without_a_trailing_bucket() -> None:
    inclusive = ok("traffic/trends?start=2026-10-01&end=2026-10-07", config=INCLUSIVE)
    exclusive = ok("traffic/trends?start=2026-10-01&end=2026-10-08")  # the default reading of the same days
    assert inclusive["meta"] == exclusive["meta"] | {"bucket_count": 7}
    assert inclusive["data"] == exclusive["data"][:-1] and inclusive["data"][-1]["pageviews"] > 0
    one_day = ok("traffic/trends?start=2026-10-07&end=2026-10-07", config=INCLUSIVE)  # start=D, end=D is D
    assert one_day["meta"]["bucket_count"] == 1 and one_day["data"] == inclusive["data"][-1:]
    assert get("traffic/trends?start=2026-10-07&end=2026-10-06", config=INCLUSIVE)[0] == 400


def test_inclusive_end_on_other_endpoints_and_hours() -> None:
    clicks = ok(f"clicks/breakdown?{OCTOBER}&granularity=week", config=INCLUSIVE)
    assert clicks["meta"]["end"] == "2026-11-01T23:59:59.000Z"
    # spring forward: a date-only end is the whole local day, 23 hourly buckets and nothing after
    day = "start=2026-03-08&end=2026-03-08&granularity=hour&timezone=America/New_York"
    spring = ok(f"traffic/trends?{day}", config=INCLUSIVE)
    assert spring["meta"]["bucket_count"] == 23 and spring["meta"]["end"] == "2026-03-09T03:59:59.000Z"
    # a timestamp end names its own second: meta.end is that second and its bucket is in the series
    ts = ok("traffic/trends?granularity=hour&start=2026-06-01T00:00:00Z&end=2026-06-01T05:00:00Z", config=INCLUSIVE)
    assert ts["meta"]["end"] == "2026-06-01T05:00:00.000Z" and ts["meta"]["bucket_count"] == 6


def test_inclusive_end_bucket_limit() -> None:
    first = pendulum.date(2025, 1, 1)
    at_limit = ok(f"traffic/trends?start={first}&end={first.add(days=499)}", config=INCLUSIVE)
    assert at_limit["meta"]["bucket_count"] == 500 and at_limit["meta"]["end"] == "2026-05-15T23:59:59.000Z"
    status, body = get(f"traffic/trends?start={first}&end={first.add(days=500)}", config=INCLUSIVE)
    assert status == 400 and body["error"] == "invalid_request" and "range too large" in body["message"]


def test_limit_of_the_config_is_honoured() -> None:
    config = replace(CONFIG, humblytics_bucket_limit=7)
    assert get("traffic/trends?start=2026-10-01&end=2026-10-07", config=config)[0] == 200
    assert get("traffic/trends?start=2026-10-01&end=2026-10-08", config=config)[0] == 400


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-10-01",  # end missing
        "end=2026-10-01",  # start missing
        "start=2026-10-05&end=2026-10-01",  # end before start
        "start=2026-10-05&end=2026-10-05",  # end must be AFTER start
        "start=2026-02-30&end=2026-03-05",
        "start=yesterday&end=2026-10-05",
        "start=2026/10/01&end=2026-10-05",
        f"{OCTOBER}&timezone=Mars/Olympus_Mons",
        f"{OCTOBER}&timezone=%2B05%3A00",
        f"{OCTOBER}&granularity=minute",
        f"{OCTOBER}&granularity=Day",
        f"{OCTOBER}&granularity=quarter",
    ],
)
def test_unparseable_requests_are_400(query: str) -> None:
    invalid(f"traffic/trends?{query}")


@pytest.mark.parametrize("endpoint", ["traffic/breakdown", "clicks/breakdown", "forms/breakdown", "clicks/details"])
@pytest.mark.parametrize("limit", ["51", "0", "-1", "ten", "10.5"])
def test_limit_above_50_is_refused_not_clamped(endpoint: str, limit: str) -> None:
    invalid(f"{endpoint}?{OCTOBER}&limit={limit}&page=%2Fpricing%2F")


def test_limit_50_is_accepted() -> None:
    ok(f"traffic/breakdown?{OCTOBER}&limit=50")


# --- buckets, timezones, DST ------------------------------------------------------------------------------


def test_spring_forward_day_has_23_hours() -> None:
    body = ok("traffic/trends?granularity=hour&timezone=America/New_York&start=2026-03-08&end=2026-03-08T23:00:00")
    buckets = [pendulum.parse(row["bucket"]) for row in body["data"]]
    assert body["meta"]["bucket_count"] == 23 == len(buckets)
    assert buckets[0] == pendulum.datetime(2026, 3, 8, 5)
    assert all((b - a).in_seconds() == 3600 for a, b in itertools.pairwise(buckets))
    local_hours = [b.in_tz("America/New_York").hour for b in buckets]
    assert 2 not in local_hours and local_hours[:3] == [0, 1, 3]
    # date-only end: the day's 23 buckets plus the trailing (empty) one at the next local midnight
    whole = ok("traffic/trends?granularity=hour&timezone=America/New_York&start=2026-03-08&end=2026-03-09")
    assert whole["meta"]["bucket_count"] == 24 and whole["meta"]["end"] == "2026-03-09T03:59:59.000Z"


def test_fall_back_day_has_25_hours() -> None:
    body = ok("traffic/trends?granularity=hour&timezone=America/New_York&start=2026-11-01&end=2026-11-01T23:00:00")
    assert body["meta"]["bucket_count"] == 25


def test_day_buckets_follow_local_midnight_across_dst() -> None:
    body = ok("traffic/trends?timezone=America/New_York&start=2026-03-07&end=2026-03-10")
    assert [row["bucket"] for row in body["data"]] == [
        "2026-03-07T05:00:00.000Z",
        "2026-03-08T05:00:00.000Z",
        "2026-03-09T04:00:00.000Z",
        "2026-03-10T04:00:00.000Z",
    ]


def test_week_and_month_buckets() -> None:
    weeks = ok(f"traffic/trends?granularity=week&{OCTOBER}")["data"]
    assert [pendulum.parse(r["bucket"]).day_of_week for r in weeks] == [pendulum.MONDAY] * len(weeks)
    months = ok("traffic/trends?granularity=month&timezone=Europe/Berlin&start=2026-01-01&end=2026-06-01")["data"]
    assert months[0]["bucket"] == "2025-12-31T23:00:00.000Z"  # CET
    assert months[4]["bucket"] == "2026-04-30T22:00:00.000Z"  # CEST


def test_totals_agree_across_granularities_and_timezones() -> None:
    rng = "start=2026-10-01T00:00:00Z&end=2026-10-21T00:00:00Z"  # 481 hourly buckets

    def total(query: str, field: str = "pageviews") -> int:
        return sum(row[field] for row in ok(f"traffic/trends?{rng}&{query}")["data"])

    hourly = total("granularity=hour&timezone=UTC")
    assert hourly > 0
    assert hourly == total("granularity=day") == total("granularity=week") == total("granularity=month")
    assert hourly == total("granularity=day&timezone=Asia/Kolkata") == total("timezone=America/New_York")
    # unique visitors are distinct per bucket: coarser buckets can only collapse repeat visitors
    assert total("granularity=month", "unique_visitors") <= total("granularity=day", "unique_visitors")


def test_buckets_are_zero_filled_up_to_and_after_now() -> None:
    body = ok("traffic/trends?granularity=hour&start=2026-11-19T20:00:00Z&end=2026-11-20T04:00:00Z")
    rows = body["data"]
    assert len(rows) == 9
    assert all(r["pageviews"] > 0 for r in rows[:3])  # busy evening hours of yesterday
    assert all(r == {"bucket": r["bucket"], "pageviews": 0, "unique_visitors": 0} for r in rows[4:])
    empty = ok("traffic/trends?start=2030-01-01&end=2030-01-05")
    assert len(empty["data"]) == 5 and {r["pageviews"] for r in empty["data"]} == {0}


def test_same_request_same_bytes() -> None:
    target = f"clicks/breakdown?{OCTOBER}&granularity=week&timezone=Europe/Paris"
    assert call(target).body == call(target).body


# --- breakdowns and details ------------------------------------------------------------------------------


def test_traffic_breakdown_segments() -> None:
    body = ok(f"traffic/breakdown?{OCTOBER}&limit=3")
    assert set(body["meta"]) == {"property_id", "start", "end", "timezone"}
    data = body["data"]
    assert set(data) == {"utm", "countries", "devices", "landing_pages", "referrers"}
    for segment, rows in data.items():
        assert 0 < len(rows) <= 3
        assert [r["sessions"] for r in rows] == sorted((r["sessions"] for r in rows), reverse=True)
        for r in rows:
            assert set(r) == ({"source", "medium", "campaign"} if segment == "utm" else {"value"}) | {
                "sessions",
                "share",
            }
    devices = ok(f"traffic/breakdown?{OCTOBER}")["data"]["devices"]
    assert {r["value"] for r in devices} == {"desktop", "mobile", "unknown"}
    assert sum(r["share"] for r in devices) == pytest.approx(1, abs=0.001)
    assert {"source": "unknown", "medium": "unknown", "campaign": "unknown"}.items() <= data["utm"][0].items()
    assert any(r["value"] == "unknown" for r in data["referrers"] + data["countries"])


@pytest.mark.parametrize(
    ("endpoint", "data_keys", "rows_key", "row_keys", "item_key", "item_keys", "count"),
    [
        ("clicks/breakdown", {"pages", "trend"}, "pages", {"page", "clicks", "unique_clicks", "targets"},
         "targets", {"target", "clicks", "unique_clicks"}, "clicks"),
        ("forms/breakdown", {"pages", "trend"}, "pages", {"page", "submissions", "unique_submissions", "forms"},
         "forms", {"form", "submissions", "unique_submissions"}, "submissions"),
        ("clicks/details", {"page", "targets", "trend"}, "targets", {"target", "clicks", "unique_clicks", "share"},
         None, None, "clicks"),
        ("forms/details", {"page", "forms", "trend"}, "forms", {"form", "submissions", "unique_submissions", "share"},
         None, None, "submissions"),
    ],
)  # fmt: skip
def test_click_and_form_shapes_follow_facts_md(
    endpoint: str,
    data_keys: set[str],
    rows_key: str,
    row_keys: set[str],
    item_key: str | None,
    item_keys: set[str] | None,
    count: str,
) -> None:
    page = "%2Fcontact%20us%2F" if endpoint.startswith("forms") else "%2Fpricing%2F"
    body = ok(f"{endpoint}?{OCTOBER}&granularity=week&page={page}")
    assert set(body) == {"meta", "data"}
    assert set(body["meta"]) == {"property_id", "start", "end", "timezone", "granularity", "bucket_count"}
    data = body["data"]
    assert set(data) == data_keys
    rows = data[rows_key]
    assert rows and all(set(row) == row_keys for row in rows)
    if item_key:
        items = [item for row in rows for item in row[item_key]]
        assert items and all(set(item) == item_keys for item in items)
    trend = data["trend"]
    assert len(trend) == body["meta"]["bucket_count"]
    assert all(set(t) == {"bucket", count, f"unique_{count}"} for t in trend)


def test_breakdown_has_no_paging() -> None:
    """Nothing in the document pages segment rows; a `page` parameter changes nothing."""
    assert call(f"traffic/breakdown?{OCTOBER}&limit=2&page=2").body == call(f"traffic/breakdown?{OCTOBER}&limit=2").body


@pytest.mark.parametrize(
    ("kind", "item", "count"), [("clicks", "targets", "clicks"), ("forms", "forms", "submissions")]
)
def test_breakdown_pages_and_trend_agree(kind: str, item: str, count: str) -> None:
    data = ok(f"{kind}/breakdown?{OCTOBER}&limit=50&granularity=week")["data"]
    pages = data["pages"]
    assert pages and sum(p[count] for p in pages) == sum(t[count] for t in data["trend"])
    for p in pages:
        assert p[f"unique_{count}"] <= p[count] == sum(i[count] for i in p[item])
    limited = ok(f"{kind}/breakdown?{OCTOBER}&limit=1")["data"]["pages"]
    assert len(limited) == 1 and len(limited[0][item]) == 1  # limit caps pages and items per page
    assert limited[0]["page"] == pages[0]["page"] and limited[0][item][0] == pages[0][item][0]


def test_details_require_page_and_decode_it() -> None:
    invalid(f"forms/details?{OCTOBER}")
    body = ok(f"forms/details?{OCTOBER}&page=%2Fcontact%20us%2F")
    assert body["data"]["page"] == "/contact us/"
    forms = body["data"]["forms"]
    assert forms and set(forms[0]) == {"form", "submissions", "unique_submissions", "share"}
    assert sum(f["share"] for f in forms) == pytest.approx(1, abs=0.001)
    assert sum(f["submissions"] for f in forms) == sum(t["submissions"] for t in body["data"]["trend"])
    # the raw, still-encoded string is not a page the tracker knows
    raw = ok(f"forms/details?{OCTOBER}&page=%252Fcontact%2520us%252F")["data"]
    assert raw["page"] == "%2Fcontact%20us%2F" and raw["forms"] == []


def test_clicks_details_only_count_the_page() -> None:
    body = ok(f"clicks/details?{OCTOBER}&page=%2Fpricing%2F&limit=2")
    targets = body["data"]["targets"]
    assert len(targets) == 2
    full = ok(f"clicks/details?{OCTOBER}&page=%2Fpricing%2F")["data"]
    assert sum(t["share"] for t in full["targets"]) == pytest.approx(1, abs=0.001)
    pricing = next(p for p in ok(f"clicks/breakdown?{OCTOBER}&limit=50")["data"]["pages"] if p["page"] == "/pricing/")
    assert sum(t["clicks"] for t in full["trend"]) == pricing["clicks"]


# --- over HTTP (the shared sandbox server) ----------------------------------------------------------------


def test_over_http_published_sample_and_errors(sandbox: Any) -> None:
    base = f"{sandbox.url_for('humblytics')}/properties/{HUMBLYTICS_PROPERTY}"
    params = {
        "start": "2024-05-01",
        "end": "2024-05-07",
        "granularity": "day",
        "timezone": "America/New_York",
    }
    response = httpx.get(f"{base}/traffic/trends", params=params, headers=AUTH)
    assert response.status_code == 200
    meta = response.json()["meta"]
    assert (meta["start"], meta["end"], meta["bucket_count"]) == (
        "2024-05-01T04:00:00.000Z",
        "2024-05-07T03:59:59.000Z",
        7,
    )
    assert httpx.get(f"{base}/traffic/trends", params=params).status_code == 401
    other = f"{sandbox.url_for('humblytics')}/properties/someone-else/traffic/trends"
    assert httpx.get(other, params=params, headers=AUTH).json()["error"] == "forbidden"
    too_many = httpx.get(f"{base}/traffic/breakdown", params={**params, "limit": "51"}, headers=AUTH)
    assert (too_many.status_code, too_many.json()["error"]) == (400, "invalid_request")


def test_over_http_range_too_large(sandbox: Any) -> None:
    base = f"{sandbox.url_for('humblytics')}/properties/{HUMBLYTICS_PROPERTY}"
    params = {"start": "2026-01-01", "end": "2026-03-01", "granularity": "hour"}  # 1417 hourly buckets
    response = httpx.get(f"{base}/traffic/trends", params=params, headers=AUTH)
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "message"} and body["error"] == "invalid_request"
    assert "range too large" in body["message"]


def test_over_http_key_without_metrics(sandbox: Any) -> None:
    base = f"{sandbox.url_for('humblytics')}/properties/{HUMBLYTICS_PROPERTY}/traffic/trends?{OCTOBER}"
    response = httpx.get(base, headers=NO_METRICS)
    assert response.status_code == 403
    assert response.json()["message"] == "API key does not have the metrics permission."


@pytest.mark.sandbox_config(humblytics_end_inclusive=True)
def test_over_http_inclusive_end_from_the_fixture_config(sandbox: Any, sandbox_factory: Any) -> None:
    path = f"/properties/{HUMBLYTICS_PROPERTY}/{SAMPLE}"
    inclusive = httpx.get(sandbox.url_for("humblytics") + path, headers=AUTH).json()["meta"]
    assert (inclusive["end"], inclusive["bucket_count"]) == ("2024-05-08T03:59:59.000Z", 7)
    default = sandbox_factory().url_for("humblytics")
    assert httpx.get(default + path, headers=AUTH).json()["meta"]["end"] == "2024-05-07T03:59:59.000Z"


def test_over_http_details_page_is_url_decoded(sandbox: Any) -> None:
    base = f"{sandbox.url_for('humblytics')}/properties/{HUMBLYTICS_PROPERTY}"
    raw = httpx.get(f"{base}/forms/details?{OCTOBER}&page=%2Fcontact%20us%2F", headers=AUTH).json()
    encoded = httpx.get(
        f"{base}/forms/details",
        params={"start": "2026-10-01", "end": "2026-11-01", "page": "/contact us/"},
        headers=AUTH,
    ).json()
    assert raw["data"]["page"] == encoded["data"]["page"] == "/contact us/"
    assert raw["data"]["forms"] and raw == encoded
