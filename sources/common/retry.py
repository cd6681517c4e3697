"""Retry policy and wait computation: `Retry-After` when the vendor sends it, full-jitter backoff otherwise.

A small pure function rather than tenacity: the client's loop needs the response between attempts
(to read `Retry-After`, to classify a 429) and a budget that can end early, and a pure `next_wait` is
testable without sleeping.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import pendulum

from . import clock


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying transient failures: attempts (including the first) and total sleep."""

    max_attempts: int = 6
    max_total_wait_s: float = 120.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    jitter: bool = True

    def backoff(self, retry_number: int, rand: Callable[[], float] = random.random) -> float:
        """Exponential backoff for the n-th retry (1-based), capped; full jitter draws from [0, cap]."""
        cap = float(min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (retry_number - 1)))
        return rand() * cap if self.jitter else cap


def parse_retry_after(value: str | None, now: pendulum.DateTime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date); None if absent/garbled."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=pendulum.UTC)
    current = now or clock.now()
    return max((when - current).total_seconds(), 0.0)


def next_wait(
    policy: RetryPolicy,
    retry_number: int,
    waited_s: float,
    retry_after_s: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to sleep before retry `retry_number` (1-based), or None when the policy is spent.

    Spent means: the attempts are used up, the sleep budget is gone, or the vendor's `Retry-After`
    asks for more than the budget has left (waiting less would only earn another 429).
    """
    if retry_number >= policy.max_attempts:
        return None
    remaining = policy.max_total_wait_s - waited_s
    if remaining <= 0:
        return None
    if retry_after_s is not None:
        return retry_after_s if retry_after_s <= remaining else None
    return min(policy.backoff(retry_number, rand), remaining)
