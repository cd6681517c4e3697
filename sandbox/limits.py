"""Vendor rate limits as the vendors apply them, in front of the simulators.

HubSpot: one rolling budget (``hubspot_rate_limit``, 190 requests / 10 s, facts.md) shared by BOTH HubSpot
simulators (one portal, one app), answered with 429 + ``policyName: TEN_SECONDLY_ROLLING`` and NO
``Retry-After`` (facts.md: "Retry-After is not always sent" — a client must back off on its own); and, with
``hubspot_daily_limit``, a budget per simulated day answered with 429 ``policyName: DAILY`` (facts.md:
650k-1M requests a day) until the simulated day changes.
Humblytics: an optional window from ``humblytics_rate_limit``; 429 ``rate_limited``
(humblytics-external-analytics-api.txt lists 429 rate_limited), with ``Retry-After`` on the share
``humblytics_retry_after_share`` of them (1 = always; the document promises none).
Refused requests: with ``rate_limits_count_refused`` they count toward the window like accepted ones, as at
real vendors (a client that keeps knocking stays locked out); off, only requests that got through count.
With ``error_variants`` the 429 bodies rotate through the shapes of ``sandbox/variants.py``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

from sandbox.core import SandboxConfig, SandboxResponse
from sandbox.variants import HUMBLYTICS_RATE_LIMIT_MESSAGE, hubspot_rate_limit_body, vendor_error

HUBSPOT_RATE_LIMIT_BODY = {
    "status": "error",
    "message": "You have reached your ten_secondly_rolling limit.",
    "errorType": "RATE_LIMIT",
    "policyName": "TEN_SECONDLY_ROLLING",
}
HUMBLYTICS_RATE_LIMIT_BODY = {"error": "rate_limited", "message": HUMBLYTICS_RATE_LIMIT_MESSAGE}
# facts.md: "429 bodies carry `policyName` (e.g. `TEN_SECONDLY_ROLLING`, `DAILY`)"; the ones the sandbox can send.
HUBSPOT_POLICIES = ("TEN_SECONDLY_ROLLING", "DAILY")
__all__ = ["HUBSPOT_POLICIES", "RollingWindow", "VendorLimits", "hubspot_rate_limit_body"]


class RollingWindow:
    """At most ``max_requests`` in any ``period_s`` seconds (a sliding log; thread-safe).

    ``count_refused``: a refused request is logged too, so it keeps the window full for another period.
    """

    def __init__(
        self,
        max_requests: int,
        period_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        count_refused: bool = False,
    ) -> None:
        self.max_requests = max_requests
        self.period_s = period_s
        self.count_refused = count_refused
        self._clock = clock
        self._log: deque[float] = deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> float | None:
        """None when the request may pass (and is counted), else seconds until one would pass."""
        with self._lock:
            now = self._clock()
            while self._log and self._log[0] <= now - self.period_s:
                self._log.popleft()
            if len(self._log) < self.max_requests:
                self._log.append(now)
                return None
            if self.count_refused:
                self._log.append(now)
            # The next request passes once all but max_requests - 1 of the logged ones have left the window.
            oldest_to_leave = self._log[len(self._log) - self.max_requests]
            return max(0.0, oldest_to_leave + self.period_s - now)

    def reset(self) -> None:
        with self._lock:
            self._log.clear()


class VendorLimits:
    """The rate-limit windows and daily budgets of one server, keyed by the simulator name that draws from them."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock`` is for tests that must not depend on how fast a loaded machine sends requests."""
        refused = config.rate_limits_count_refused
        hubspot = RollingWindow(*config.hubspot_rate_limit, clock=clock, count_refused=refused)
        self._windows: dict[str, RollingWindow] = {"hubspot_analytics": hubspot, "hubspot_leads": hubspot}
        if config.humblytics_rate_limit:
            self._windows["humblytics"] = RollingWindow(
                *config.humblytics_rate_limit, clock=clock, count_refused=refused
            )
        self._lock = threading.Lock()
        self._daily: Counter[str] = Counter()  # HubSpot requests per simulated day (ISO date)
        self._refusals: Counter[str] = Counter()  # 429s sent per vendor family: picks shapes and Retry-After

    def check(self, vendor: str, config: SandboxConfig) -> SandboxResponse | None:
        """A 429 in the vendor's own words when its window or budget is spent, else None (the request counts)."""
        family = "hubspot" if vendor.startswith("hubspot") else vendor
        if family == "hubspot" and config.hubspot_daily_limit is not None:
            with self._lock:
                day = config.today.isoformat()
                self._daily[day] += 1
                spent = self._daily[day] > config.hubspot_daily_limit
            if spent:
                if config.rate_limits_count_refused:
                    self._windows[vendor].try_acquire()
                return self._hubspot_429("DAILY", config)
        window = self._windows.get(vendor)
        if window is None:
            return None
        wait = window.try_acquire()
        if wait is None:
            return None
        if family == "humblytics":
            return self._humblytics_429(wait, config)
        return self._hubspot_429("TEN_SECONDLY_ROLLING", config)

    def _refusal(self, family: str) -> int:
        with self._lock:
            self._refusals[family] += 1
            return self._refusals[family]

    def _hubspot_429(self, policy: str, config: SandboxConfig) -> SandboxResponse:
        k = self._refusal("hubspot")
        variant = k - 1 if config.error_variants else 0
        if policy == "TEN_SECONDLY_ROLLING" and variant % 4 == 0:
            return SandboxResponse.json(429, HUBSPOT_RATE_LIMIT_BODY)
        ids = (config.seed, "limit", policy, k)
        return vendor_error("hubspot", 429, policy=policy, ids=ids, variant=variant - 1 if variant else 0)

    def _humblytics_429(self, wait: float, config: SandboxConfig) -> SandboxResponse:
        k = self._refusal("humblytics")
        share = config.humblytics_retry_after_share
        with_header = math.floor(k * share) > math.floor((k - 1) * share)
        retry_after = float(max(1, math.ceil(wait))) if with_header else None
        variant = k - 1 if config.error_variants else 0
        if variant % 3 == 0:
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return SandboxResponse.json(429, HUMBLYTICS_RATE_LIMIT_BODY, headers)
        return vendor_error("humblytics", 429, retry_after=retry_after, variant=variant)

    def reset(self) -> None:
        for window in set(self._windows.values()):
            window.reset()
        with self._lock:
            self._daily.clear()
            self._refusals.clear()
