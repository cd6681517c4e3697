"""HubSpot's meanings: DAILY-policy 429 and 413/501 are terminal; the ten-secondly 429 is retried."""

from __future__ import annotations

import httpx
import pytest

from sources.common.errors import LimitExceededError, QuotaExhaustedError
from sources.common.redaction import redact
from sources.hubspot.client import analytics_client, classify, wait_hint


def _response(status: int, body: object) -> httpx.Response:
    request = httpx.Request("GET", "https://api.hubapi.com/leads/v1/list?access_token=secret-x")
    return httpx.Response(status, json=body, request=request)


def test_daily_policy_is_a_spent_quota() -> None:
    verdict = classify(_response(429, {"policyName": "DAILY", "message": "daily limit"}))
    assert verdict is not None and verdict.kind is QuotaExhaustedError


@pytest.mark.parametrize("status", [413, 501])
def test_result_limits_split_the_window(status: int) -> None:
    verdict = classify(_response(status, {"errorType": "RESULT_POINT_LIMIT_EXCEEDED"}))
    assert verdict is not None and verdict.kind is LimitExceededError


def test_hubspot_client_reads_the_correlation_header_and_masks_hapikey() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        body = {"policyName": "DAILY", "message": "You have reached your daily limit."}
        return httpx.Response(429, json=body, headers={"X-HubSpot-Correlation-Id": "corr-7"})

    client = analytics_client("tok-123", "https://api.hubapi.test")
    client._http._transport = httpx.MockTransport(reply)
    with pytest.raises(QuotaExhaustedError) as caught:
        client.get_json("/analytics/v2/reports/totals/daily", endpoint="analytics/totals/daily")
    assert caught.value.request_id == "corr-7"
    assert "(request id corr-7)" in str(caught.value) and "daily limit" in str(caught.value)
    assert redact("https://x.test/?hapikey=abc") == "https://x.test/?hapikey=***"


def test_ten_secondly_policy_and_other_statuses_are_left_alone() -> None:
    assert classify(_response(429, {"policyName": "TEN_SECONDLY_ROLLING"})) is None
    assert classify(_response(429, ["not", "a", "dict"])) is None
    assert classify(_response(503, {"policyName": "DAILY"})) is None
    assert classify(_response(400, {"message": "bad"})) is None


def test_ten_secondly_429_waits_out_the_window_others_get_no_hint() -> None:
    assert wait_hint(_response(429, {"policyName": "TEN_SECONDLY_ROLLING"})) == 10.0
    assert wait_hint(_response(429, {"policyName": "DAILY"})) is None
    assert wait_hint(_response(503, {"policyName": "TEN_SECONDLY_ROLLING"})) is None
