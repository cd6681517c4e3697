"""HubSpot's DAILY-policy 429 is terminal; the ten-secondly one is left to the retry loop."""

from __future__ import annotations

import httpx

from sources.common.errors import QuotaExhaustedError
from sources.hubspot.client import classify, wait_hint


def _response(status: int, body: object) -> httpx.Response:
    request = httpx.Request("GET", "https://api.hubapi.com/leads/v1/list?access_token=secret-x")
    return httpx.Response(status, json=body, request=request)


def test_daily_policy_is_terminal_and_masks_the_token() -> None:
    error = classify(_response(429, {"policyName": "DAILY", "message": "daily limit"}))
    assert isinstance(error, QuotaExhaustedError)
    assert "secret-x" not in str(error) + repr(error) + str(error.url)


def test_ten_secondly_policy_and_other_statuses_are_left_alone() -> None:
    assert classify(_response(429, {"policyName": "TEN_SECONDLY_ROLLING"})) is None
    assert classify(_response(429, ["not", "a", "dict"])) is None
    assert classify(_response(503, {"policyName": "DAILY"})) is None


def test_ten_secondly_429_waits_out_the_window_others_get_no_hint() -> None:
    assert wait_hint(_response(429, {"policyName": "TEN_SECONDLY_ROLLING"})) == 10.0
    assert wait_hint(_response(429, {"policyName": "DAILY"})) is None
    assert wait_hint(_response(503, {"policyName": "TEN_SECONDLY_ROLLING"})) is None
