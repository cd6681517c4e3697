"""Pure retry timing: backoff growth, jitter bounds, budget and Retry-After parsing."""

from __future__ import annotations

import pendulum
import pytest

from sources.common import clock
from sources.common.retry import RetryPolicy, next_wait, parse_retry_after


def test_defaults_match_the_contract():
    assert RetryPolicy() == RetryPolicy(
        max_attempts=6, max_total_wait_s=120.0, backoff_base_s=0.5, backoff_max_s=30.0, jitter=True
    )


def test_exponential_backoff_capped():
    policy = RetryPolicy(jitter=False)
    assert [policy.backoff(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_full_jitter_draws_between_zero_and_cap():
    policy = RetryPolicy()
    assert policy.backoff(4, rand=lambda: 0.0) == 0.0
    assert policy.backoff(4, rand=lambda: 0.5) == 2.0
    assert policy.backoff(4, rand=lambda: 0.999) == pytest.approx(3.996)


def test_next_wait_stops_after_max_attempts():
    policy = RetryPolicy(max_attempts=3, jitter=False)
    assert next_wait(policy, 1, 0.0) == 0.5
    assert next_wait(policy, 2, 0.5) == 1.0
    assert next_wait(policy, 3, 1.5) is None


def test_next_wait_respects_the_budget():
    policy = RetryPolicy(max_total_wait_s=5.0, max_attempts=99, jitter=False)
    assert next_wait(policy, 4, 3.5) == 1.5
    assert next_wait(policy, 5, 5.0) is None


def test_retry_after_used_if_it_fits_the_budget():
    policy = RetryPolicy(max_total_wait_s=60.0)
    assert next_wait(policy, 1, 0.0, retry_after_s=45.0) == 45.0
    assert next_wait(policy, 2, 45.0, retry_after_s=20.0) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
    ],
)
def test_parse_retry_after_seconds(header, expected):
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date_uses_project_clock():
    with clock.pinned(pendulum.datetime(2015, 10, 21, 7, 27, 0)):
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 60.0
        assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT") == 0.0
