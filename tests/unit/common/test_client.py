"""ApiClient over httpx.MockTransport: what is retried, what raises at once, and what never leaks."""

from __future__ import annotations

import logging
import re

import httpx
import orjson
import pendulum
import pytest

from sources.common import clock
from sources.common.auth import BearerAuth, HeaderKeyAuth, QueryTokenAuth
from sources.common.client import USER_AGENT, ApiClient, RequestIdSource, Terminal
from sources.common.errors import (
    AuthError,
    BadRequestError,
    LimitExceededError,
    QuotaExhaustedError,
    ResponseFormatError,
    RetriesExhaustedError,
    VendorError,
)
from sources.common.ratelimit import RateLimiter
from sources.common.retry import RetryPolicy
from sources.common.stats import RUN_STATS

OK = httpx.Response(200, json={"ok": True})
SECRET = "pat-na1-0f3e9c1d-SECRET-token"


def test_success_sends_user_agent_base_url_and_counts_one_request(make_client):
    client, script = make_client(OK, base_url="https://api.example.test/api/external/v1")
    assert client.get_json("/properties/p1/traffic/trends", params={"f": ["a", "b"]}) == {"ok": True}
    request = script.requests[0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert re.fullmatch(r"marketing-elt/\S+ \(\+https://github.com/marketing-elt\)", USER_AGENT)
    assert request.url.path == "/api/external/v1/properties/p1/traffic/trends"
    assert request.url.params.get_list("f") == ["a", "b"]
    assert RUN_STATS.requests["hubspot"] == 1
    assert RUN_STATS.retries["hubspot"] == 0


def test_post_json_sends_orjson_body_with_dates(make_client):
    client, script = make_client(OK)
    client.post_json("/api/v1/conversions", json={"start_date": pendulum.date(2025, 7, 1), "offset": 0})
    request = script.requests[0]
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert orjson.loads(request.content) == {"start_date": "2025-07-01", "offset": 0}


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (401, AuthError),
        (403, AuthError),
        (404, BadRequestError),
        (413, BadRequestError),  # a result limit only where a vendor's classify says so (HubSpot's)
        (422, BadRequestError),
        (501, VendorError),
    ],
)
def test_non_retried_statuses_raise_typed_error_after_one_request(make_client, fake_sleep, status, error_type):
    body = {"status": "error", "message": "nope", "errorType": "RESULT_POINT_LIMIT_EXCEEDED"}
    client, script = make_client(httpx.Response(status, json=body, headers={"x-request-id": "req-42"}))
    with pytest.raises(error_type) as caught:
        client.get_json("/analytics/v2/reports/sources/daily", endpoint="analytics/sources/daily")
    err = caught.value
    assert len(script.requests) == 1
    assert fake_sleep.calls == []
    assert (err.status, err.vendor, err.endpoint, err.request_id) == (
        status,
        "hubspot",
        "analytics/sources/daily",
        "req-42",
    )
    assert err.vendor_message == "RESULT_POINT_LIMIT_EXCEEDED: nope"
    assert err.url == "https://api.example.test/analytics/v2/reports/sources/daily"
    message = str(err)
    assert message.startswith("hubspot ") and f"({status})" in message and "analytics/sources/daily" in message
    assert message.endswith(".") and "\n" not in message


def test_401_message_names_the_credentials_to_check(make_client):
    client, _ = make_client(httpx.Response(401), credentials_hint="SOURCES__HUBSPOT__ACCESS_TOKEN")
    with pytest.raises(AuthError, match=r"hubspot rejected the credentials \(401\) on leads: check SOURCES__HUBSPOT"):
        client.get_json("/leads/v1/list", endpoint="leads")


def test_hubspot_correlation_id_and_long_vendor_message_truncated(make_client):
    long_text = "x" * 1000
    reply = httpx.Response(400, text=long_text, headers={"x-hubspot-correlation-id": "corr-9"})
    client, _ = make_client(reply, request_ids=RequestIdSource(headers=("x-hubspot-correlation-id",)))
    with pytest.raises(BadRequestError) as caught:
        client.get_json("/x")
    assert caught.value.request_id == "corr-9"
    assert str(caught.value).endswith("(request id corr-9).")  # support asks for it: the user sees it
    assert len(caught.value.vendor_message) <= 200
    assert len(str(caught.value)) < 400


def test_request_id_comes_from_where_the_vendor_puts_it(make_client):
    reply = httpx.Response(400, json={"message": "bad", "correlationId": "c-1"}, headers={"x-request-id": "r-1"})
    client, _ = make_client(reply)
    with pytest.raises(BadRequestError) as caught:
        client.get_json("/x")
    assert caught.value.request_id == "r-1"  # the default: x-request-id
    client, _ = make_client(reply, request_ids=RequestIdSource(headers=(), body_keys=("correlationId",)))
    with pytest.raises(BadRequestError) as caught:
        client.get_json("/x")
    assert caught.value.request_id == "c-1"


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_then_succeed(make_client, fake_sleep, status):
    client, script = make_client(httpx.Response(status), httpx.Response(status), OK)
    assert client.get_json("/x") == {"ok": True}
    assert len(script.requests) == 3
    assert fake_sleep.calls == [0.5, 1.0]
    assert RUN_STATS.requests["hubspot"] == 3
    assert RUN_STATS.retries["hubspot"] == 2


def test_retry_after_seconds_is_honoured(make_client, fake_sleep):
    client, _ = make_client(httpx.Response(429, headers={"Retry-After": "7"}), OK)
    client.get_json("/x")
    assert fake_sleep.calls == [7.0]


def test_retry_after_http_date_is_honoured(make_client, fake_sleep):
    client, _ = make_client(httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:12 GMT"}), OK)
    with clock.pinned(pendulum.datetime(2026, 10, 21, 7, 28, 0)):
        client.get_json("/x")
    assert fake_sleep.calls == [12.0]


def test_exponential_backoff_without_retry_after_and_bounded_attempts(make_client, fake_sleep):
    client, script = make_client(httpx.Response(503, json={"message": "down"}))
    with pytest.raises(RetriesExhaustedError) as caught:
        client.get_json("/x", endpoint="thing")
    assert len(script.requests) == 6
    assert fake_sleep.calls == [0.5, 1.0, 2.0, 4.0, 8.0]
    err = caught.value
    assert (err.status, err.attempts, err.vendor_message) == (503, 6, "down")
    assert "6 attempts" in str(err) and "thing" in str(err)
    assert RUN_STATS.retries["hubspot"] == 5


def test_backoff_is_capped_and_jittered_within_cap(make_client, fake_sleep):
    policy = RetryPolicy(max_attempts=8, max_total_wait_s=1000, backoff_base_s=1, backoff_max_s=5, jitter=True)
    client, _ = make_client(httpx.Response(500), retry=policy)
    with pytest.raises(RetriesExhaustedError):
        client.get_json("/x")
    caps = [1, 2, 4, 5, 5, 5, 5]
    assert len(fake_sleep.calls) == 7
    assert all(0 <= wait <= cap for wait, cap in zip(fake_sleep.calls, caps, strict=True))


def test_total_wait_budget_ends_retries_early(make_client, fake_sleep):
    policy = RetryPolicy(max_attempts=50, max_total_wait_s=10, backoff_base_s=1, backoff_max_s=30, jitter=False)
    client, _ = make_client(httpx.Response(502), retry=policy)
    with pytest.raises(RetriesExhaustedError):
        client.get_json("/x")
    assert fake_sleep.calls == [1, 2, 4, 3]  # the last wait is cut to what the budget has left
    assert sum(fake_sleep.calls) == 10


def test_wait_hint_stands_in_for_a_missing_retry_after(make_client, fake_sleep):
    def hint(response: httpx.Response) -> float | None:
        return 10.0 if response.status_code == 429 else None

    client, _ = make_client(
        httpx.Response(429), httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(503), OK, wait_hint=hint
    )
    client.get_json("/x")
    # no header: the hint; a header: the header wins; not a 429: the hint declines, backoff (jitter off) applies
    assert fake_sleep.calls == [10.0, 2.0, 2.0]


def test_retry_after_beyond_budget_gives_up_without_sleeping(make_client, fake_sleep):
    client, script = make_client(httpx.Response(429, headers={"Retry-After": "3600"}), OK)
    with pytest.raises(RetriesExhaustedError, match="Retry-After 3600 s") as caught:
        client.get_json("/x")
    assert caught.value.status == 429
    assert len(script.requests) == 1
    assert fake_sleep.calls == []


def test_classify_turns_a_429_terminal_and_a_spent_quota_sends_nothing_more(make_client, fake_sleep):
    def classify(response: httpx.Response) -> Terminal | None:
        if response.status_code == 429 and b"monthly limit" in response.content:
            return Terminal(QuotaExhaustedError, "has spent its monthly quota", "loading resumes next month.")
        return None

    body = {"error": "API monthly limit exceeded.", "limit": 5000, "used": 5000, "domain": "example.com"}
    client, script = make_client(httpx.Response(429, json=body), OK, vendor="attributionhub", classify=classify)
    with pytest.raises(QuotaExhaustedError) as caught:
        client.post_json("/api/v1/conversions", endpoint="conversions", json={})
    assert str(caught.value) == (
        "attributionhub has spent its monthly quota (429) on conversions "
        "(API monthly limit exceeded.): loading resumes next month."
    )
    assert len(script.requests) == 1
    assert fake_sleep.calls == []
    with pytest.raises(QuotaExhaustedError):  # the next call (OK scripted) is not even sent
        client.post_json("/api/v1/conversions", endpoint="conversions", json={"offset": 50})
    assert len(script.requests) == 1


def test_classify_can_make_any_status_a_limit_for_window_splitting(make_client):
    def classify(response: httpx.Response) -> Terminal | None:
        if response.status_code == 400 and b"range too large" in response.content:
            return Terminal(LimitExceededError, "refused a range over its bucket limit", "narrow the range.")
        return None

    body = {"error": "invalid_request", "message": "range too large: more than 500 day buckets"}
    client, _ = make_client(httpx.Response(400, json=body), vendor="humblytics", classify=classify)
    with pytest.raises(LimitExceededError):
        client.get_json("/t")
    client, _ = make_client(httpx.Response(400, json={"error": "invalid_request"}), classify=classify)
    with pytest.raises(BadRequestError):
        client.get_json("/t")


def test_classify_none_leaves_429_retried(make_client):
    client, script = make_client(httpx.Response(429), OK, classify=lambda response: None)
    assert client.get_json("/x") == {"ok": True}
    assert len(script.requests) == 2


def test_truncated_json_is_retried_then_succeeds(make_client, fake_sleep):
    client, script = make_client(httpx.Response(200, content=b'{"breakdowns": [{"a": 1'), OK)
    assert client.get_json("/x") == {"ok": True}
    assert len(script.requests) == 2
    assert RUN_STATS.retries["hubspot"] == 1


def test_truncated_json_every_time_raises_response_format_error(make_client):
    client, script = make_client(httpx.Response(200, content=b'{"total": 3, "bre'))
    with pytest.raises(ResponseFormatError, match="undecodable JSON"):
        client.get_json("/x")
    assert len(script.requests) == 6


def test_request_decoded_returns_the_response_and_its_body_decoded_once(make_client):
    client, _ = make_client(httpx.Response(200, json=[1], headers={"x-next": "c2"}))
    response, payload = client.request_decoded("GET", "/x")
    assert (response.headers["x-next"], payload) == ("c2", [1])


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_transport_errors_are_retried(make_client, fake_sleep, exc):
    client, script = make_client(exc, OK)
    assert client.get_json("/x") == {"ok": True}
    assert len(script.requests) == 2
    assert fake_sleep.calls == [0.5]


def test_transport_errors_exhausted_raise_retries_exhausted(make_client):
    client, _ = make_client(httpx.ConnectTimeout("timed out"))
    with pytest.raises(RetriesExhaustedError, match="ConnectTimeout") as caught:
        client.get_json("/x")
    assert caught.value.status is None
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_unexpected_status_is_a_terminal_vendor_error(make_client):
    client, script = make_client(httpx.Response(505))
    with pytest.raises(VendorError):
        client.get_json("/x")
    assert len(script.requests) == 1


def test_rate_limiter_is_acquired_per_attempt(make_client):
    class CountingLimiter(RateLimiter):
        def __init__(self) -> None:
            super().__init__(100, 1.0)
            self.count = 0

        def acquire(self) -> None:
            self.count += 1

    limiter = CountingLimiter()
    client, _ = make_client(httpx.Response(500), OK, rate_limiter=limiter)
    client.get_json("/x")
    assert limiter.count == 2


def test_auth_styles_reach_the_wire(make_client):
    client, script = make_client(OK, auth=BearerAuth("bearer-secret-1"))
    client.get_json("/a")
    assert script.requests[-1].headers["Authorization"] == "Bearer bearer-secret-1"

    client, script = make_client(OK, auth=HeaderKeyAuth("Authentication", "ah-key-2"))
    client.post_json("/api/v1/insights", json={})
    assert script.requests[-1].headers["Authentication"] == "ah-key-2"
    assert "Authorization" not in script.requests[-1].headers

    client, script = make_client(OK, auth=QueryTokenAuth("access_token", "leads-token-3"))
    client.get_json("/leads/v1/list", params={"max": 100})
    assert script.requests[-1].url.params["access_token"] == "leads-token-3"
    assert script.requests[-1].url.params["max"] == "100"


def test_context_manager_closes(make_client):
    client, _ = make_client(OK)
    with client as same:
        assert same is client
    with pytest.raises(RuntimeError):
        client.get_json("/x")


# --- secrets never leak --------------------------------------------------------------------------


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _echo_url(status: int):
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=f"bad request for {request.url} token={SECRET}")

    return reply


def _raise_with_url(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(f"failed to connect to {request.url}", request=request)


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        (_echo_url(400), BadRequestError),
        (_echo_url(401), AuthError),
        (_echo_url(404), BadRequestError),
        (_echo_url(503), RetriesExhaustedError),
        (_raise_with_url, RetriesExhaustedError),
        (lambda request: httpx.Response(200, text=f'{{"url": "{request.url}'), ResponseFormatError),
    ],
)
def test_query_token_never_in_errors_or_logs(make_client, caplog, reply, error_type):
    caplog.set_level(logging.DEBUG)
    client, _ = make_client(reply, vendor="hubspot", auth=QueryTokenAuth("access_token", SECRET))
    with pytest.raises(error_type) as caught:
        client.get_json("/leads/v1/list", endpoint="leads", params={"max": 100})
    for exc in _chain(caught.value):
        for text in (str(exc), repr(exc), *(str(v) for v in vars(exc).values())):
            assert SECRET not in text
    if reply is _raise_with_url:
        assert "access_token=***" in str(caught.value)  # the transport error's own text, masked
    assert caught.value.url and "access_token=***" in caught.value.url
    assert isinstance(caught.value, VendorError)
    assert SECRET not in caught.value.details()
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in caplog.text


def test_retry_warnings_log_the_redacted_url(make_client, caplog):
    caplog.set_level(logging.WARNING, logger="sources.common.client")
    client, _ = make_client(httpx.Response(503), OK, auth=QueryTokenAuth("access_token", SECRET))
    client.get_json("/leads/v1/list", endpoint="leads")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "access_token=***" in warnings[0].getMessage()
    assert "retry 1/5" in warnings[0].getMessage()


def test_repr_of_client_hides_nothing_secret():
    client = ApiClient("hubspot", "https://api.example.test?api_key=abc123", QueryTokenAuth("access_token", SECRET))
    assert "abc123" not in repr(client) and SECRET not in repr(client)
    client.close()


def test_a_429_holds_the_shared_limiter_for_every_worker(make_client, fake_sleep):
    held: list[float] = []

    class Recording(RateLimiter):
        def hold(self, seconds: float) -> None:
            held.append(seconds)

    client, _ = make_client(httpx.Response(429, headers={"Retry-After": "3"}), OK, rate_limiter=Recording(100, 1.0))
    assert client.get_json("/x") == {"ok": True}
    assert held == [3.0] and fake_sleep.calls == [3.0]
    client, _ = make_client(httpx.Response(503), OK, rate_limiter=Recording(100, 1.0))
    client.get_json("/x")
    assert held == [3.0]  # a 5xx is this request's trouble, not the budget's


def test_a_truncated_body_is_retried_through_a_columnar_decoder_too(make_client, fake_sleep):
    """`decode_page` reads a body with pyarrow and falls back to orjson: a truncated page still reaches the
    client as undecodable, and is retried."""
    from sources.common.arrow_json import ArrowRecords
    from sources.hubspot.leads import decode_page

    page = httpx.Response(200, content=b'[{"guid": "a", "lastModifiedAt": 1}]')
    client, script = make_client(httpx.Response(200, content=b'[{"guid": "a", "lastModi'), page)
    _, payload = client.request_decoded("GET", "/x", decode=decode_page)
    assert isinstance(payload, ArrowRecords) and payload.array.to_pylist() == [{"guid": "a", "lastModifiedAt": 1}]
    assert len(script.requests) == 2
    assert RUN_STATS.retries["hubspot"] == 1
