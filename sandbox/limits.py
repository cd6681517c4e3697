"""Vendor rate limits as the vendors apply them, in front of the simulators.

HubSpot: one rolling budget (``hubspot_rate_limit``, 190 requests / 10 s, facts.md) shared by BOTH HubSpot
simulators (one portal, one app), answered with 429 + ``policyName: TEN_SECONDLY_ROLLING`` and NO
``Retry-After`` (facts.md: "Retry-After is not always sent" — a client must back off on its own).
Humblytics: an optional window from ``humblytics_rate_limit``; 429 ``rate_limited`` with ``Retry-After``
(humblytics-external-analytics-api.txt lists 429 rate_limited). Only requests that get through count toward
a window: a refused request does not extend the lock-out (the documents do not say it would).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from sandbox.core import SandboxConfig, SandboxResponse

HUBSPOT_RATE_LIMIT_BODY = {
    "status": "error",
    "message": "You have reached your ten_secondly_rolling limit.",
    "errorType": "RATE_LIMIT",
    "policyName": "TEN_SECONDLY_ROLLING",
}
HUMBLYTICS_RATE_LIMIT_BODY = {"error": "rate_limited", "message": "Too many requests in a short window."}
# facts.md: "429 bodies carry `policyName` (e.g. `TEN_SECONDLY_ROLLING`, `DAILY`)"; the ones the sandbox can send.
HUBSPOT_POLICIES = ("TEN_SECONDLY_ROLLING", "DAILY")


def hubspot_rate_limit_body(policy: str, correlation_id: str, request_id: str) -> dict[str, str]:
    """A HubSpot 429 body for ``policy`` with its ids; ``DAILY`` says "You have reached your daily limit.".

    facts.md records only the policyName values; the keys and their order follow HubSpot's public 429 example,
    which no document in vendor-docs/ reproduces (an assumption: keep it here, in one place).
    """
    return {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id,
        "policyName": policy,
        "requestId": request_id,
    }


class RollingWindow:
    """At most ``max_requests`` accepted in any ``period_s`` seconds (a sliding log; thread-safe)."""

    def __init__(self, max_requests: int, period_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_requests = max_requests
        self.period_s = period_s
        self._clock = clock
        self._accepted: deque[float] = deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> float | None:
        """None when the request may pass (and is counted), else seconds until a slot frees up."""
        with self._lock:
            now = self._clock()
            while self._accepted and self._accepted[0] <= now - self.period_s:
                self._accepted.popleft()
            if len(self._accepted) < self.max_requests:
                self._accepted.append(now)
                return None
            return max(0.0, self._accepted[0] + self.period_s - now)

    def reset(self) -> None:
        with self._lock:
            self._accepted.clear()


class VendorLimits:
    """The rate-limit windows of one server, keyed by the simulator name that draws from them."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock`` is for tests that must not depend on how fast a loaded machine sends requests."""
        hubspot = RollingWindow(*config.hubspot_rate_limit, clock=clock)
        self._windows: dict[str, RollingWindow] = {"hubspot_analytics": hubspot, "hubspot_leads": hubspot}
        if config.humblytics_rate_limit:
            self._windows["humblytics"] = RollingWindow(*config.humblytics_rate_limit, clock=clock)

    def check(self, vendor: str) -> SandboxResponse | None:
        """A 429 in the vendor's own words when its window is full, else None (and the request counts)."""
        window = self._windows.get(vendor)
        if window is None:
            return None
        wait = window.try_acquire()
        if wait is None:
            return None
        if vendor == "humblytics":
            return SandboxResponse.json(429, HUMBLYTICS_RATE_LIMIT_BODY, {"Retry-After": str(max(1, math.ceil(wait)))})
        return SandboxResponse.json(429, HUBSPOT_RATE_LIMIT_BODY)

    def reset(self) -> None:
        for window in set(self._windows.values()):
            window.reset()
