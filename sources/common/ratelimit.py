"""A sliding-window rate limiter shared by every client that draws on one vendor budget."""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable

from .errors import ConfigError

_LIMITERS: weakref.WeakSet[RateLimiter] = weakref.WeakSet()


def reset_all() -> None:
    """Every limiter back to its configured rate: each run starts from the budget it was given (the runner
    calls this, so runs in one process, such as tests, do not inherit a rate another run cut)."""
    for limiter in list(_LIMITERS):
        limiter.reset()


class RateLimiter:
    """At most `max_requests` acquisitions in any `period_s` window; `acquire()` blocks until a slot frees.

    Sliding (not fixed) windows because HubSpot's burst limit is a rolling 10 s window (facts.md:
    `TEN_SECONDLY_ROLLING`). Sleeping happens outside the lock so other threads can still check in.
    `hold(seconds)` pauses every thread that draws on the limiter: after a 429, the client's backoff applies
    to all workers, not only the one that was refused (vendors count refused requests toward their window).

    Adaptive below the ceiling: a vendor that publishes no numbers (Humblytics: "limits will evolve with
    usage") or a budget shared with other tools refuses more than our own limit predicts, and a fixed rate
    then meets a 429 on every window until retries run out. So `refused()` halves the rate in force and each
    window's worth of `succeeded()` answers raises it by a quarter again, up to `max_requests`: under a vendor
    that allows less it settles below the vendor's rate, probing it now and then.
    """

    def __init__(
        self,
        max_requests: int,
        period_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests < 1 or period_s <= 0:
            raise ConfigError(
                f"A rate limit needs at least 1 request per positive period, got {max_requests}/{period_s}s."
            )
        self.max_requests = max_requests
        self.period_s = period_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._stamps: deque[float] = deque()
        self._hold_until = 0.0
        self._limit = max_requests  # the rate in force: `max_requests` until the vendor refuses
        self._granted = 0  # answers at this rate since it last changed
        self._last_cut = -math.inf
        _LIMITERS.add(self)  # `reset_all` starts it over at each run

    @property
    def limit(self) -> int:
        return self._limit

    def _try_acquire(self) -> float:
        """Take a slot and return 0, or return how long to wait before one frees."""
        with self._lock:
            now = self._clock()
            if now < self._hold_until:
                return self._hold_until - now
            while self._stamps and now - self._stamps[0] >= self.period_s:
                self._stamps.popleft()
            if len(self._stamps) < self._limit:
                self._stamps.append(now)
                return 0.0
            return max(self._stamps[0] + self.period_s - now, 1e-3)

    def hold(self, seconds: float) -> None:
        """No acquisition succeeds for `seconds` from now (an earlier, longer hold stands)."""
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)

    def refused(self) -> None:
        """The vendor answered 429: halve the rate in force (never below one request per period). The other
        429s of the same window were sent at the old rate: they do not halve it again."""
        with self._lock:
            now = self._clock()
            if now - self._last_cut < self.period_s:
                return
            self._limit, self._granted, self._last_cut = max(1, self._limit // 2), 0, now

    def succeeded(self) -> None:
        """An answer the vendor did not refuse: after a window's worth of them, a quarter more (at least one)
        request per period, so a rate cut by one stray 429 is back within a few windows."""
        with self._lock:
            if self._limit >= self.max_requests:
                return
            self._granted += 1
            if self._granted >= self._limit:
                grown = max(self._limit + 1, self._limit * 5 // 4)
                self._limit, self._granted = min(grown, self.max_requests), 0

    def reset(self) -> None:
        """Back to `max_requests`, no hold: what a run learned about the vendor's rate does not outlive it."""
        with self._lock:
            self._limit, self._granted, self._last_cut, self._hold_until = self.max_requests, 0, -math.inf, 0.0

    def acquire(self) -> None:
        """Block until a request may be sent, then count it."""
        while (wait := self._try_acquire()) > 0:
            self._sleep(wait)

    def __repr__(self) -> str:
        return f"RateLimiter({self.max_requests}, {self.period_s}, in force {self._limit})"
