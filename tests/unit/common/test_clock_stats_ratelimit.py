"""Clock pinning across threads, run stats, and the sliding-window rate limiter on a fake clock."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pendulum
import pytest

from sources.common import clock, stats
from sources.common.errors import ConfigError
from sources.common.ratelimit import RateLimiter, reset_all
from sources.common.stats import RUN_STATS


def test_now_is_utc_and_today_follows_timezone():
    assert clock.now().timezone_name == "UTC"
    with clock.pinned(pendulum.datetime(2026, 3, 1, 2, 30, tz="UTC")):
        assert clock.today() == pendulum.date(2026, 3, 1)
        assert clock.today("America/New_York") == pendulum.date(2026, 2, 28)


def test_pinned_holds_in_other_threads_and_restores():
    at = pendulum.datetime(2026, 1, 15, 12, 0, tz="UTC")
    with clock.pinned(at):
        with ThreadPoolExecutor(4) as pool:
            seen = list(pool.map(lambda _: clock.now(), range(8)))
        assert seen == [at] * 8
        thread_seen: list[pendulum.DateTime] = []
        worker = threading.Thread(target=lambda: thread_seen.append(clock.now()))
        worker.start()
        worker.join()
        assert thread_seen == [at]
        before = time.monotonic()
        time.sleep(0.01)
        assert time.monotonic() - before >= 0.005  # monotonic keeps running: dlt's workers wait on it
    assert clock.now() != at
    assert abs((clock.now() - pendulum.now("UTC")).total_seconds()) < 5


def test_pinned_nests_and_accepts_dates_and_zoned_datetimes():
    with clock.pinned(pendulum.date(2026, 2, 1)):
        assert clock.now() == pendulum.datetime(2026, 2, 1, tz="UTC")
        with clock.pinned(pendulum.datetime(2026, 2, 1, 9, tz="Europe/Berlin")):
            assert clock.now() == pendulum.datetime(2026, 2, 1, 8, tz="UTC")
            assert clock.now().timezone_name == "UTC"
        assert clock.now() == pendulum.datetime(2026, 2, 1, tz="UTC")


def test_run_stats_counters_snapshot_reset_threadsafe():
    def bump(_: int) -> None:
        for _ in range(1000):
            RUN_STATS.add_request("hubspot")
        RUN_STATS.add_retry("hubspot")
        RUN_STATS.add_split("humblytics")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bump, range(8)))
    assert stats.snapshot() == {
        "requests": {"hubspot": 8000},
        "retries": {"hubspot": 8},
        "splits": {"humblytics": 8},
        "incomplete": {},
    }
    assert RUN_STATS.requests["never-seen"] == 0
    requests = RUN_STATS.requests
    stats.reset()
    assert stats.snapshot() == {"requests": {}, "retries": {}, "splits": {}, "incomplete": {}}
    assert requests is RUN_STATS.requests


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def test_rate_limiter_sliding_window_with_fake_clock():
    fake = FakeClock()
    limiter = RateLimiter(3, 10.0, clock=fake, sleep=fake.sleep)
    for _ in range(3):
        limiter.acquire()
    assert fake.sleeps == []
    fake.t += 4.0
    limiter.acquire()  # the window still holds 3 stamps from t=1000 -> wait until t=1010
    assert fake.sleeps == [pytest.approx(6.0)]
    assert fake.t == pytest.approx(1010.0)
    fake.t += 2.5
    limiter.acquire()  # stamps at 1000 (x2) have expired: free slot immediately
    assert len(fake.sleeps) == 1


def test_rate_limiter_never_exceeds_budget_in_any_window():
    fake = FakeClock()
    limiter = RateLimiter(5, 2.0, clock=fake, sleep=fake.sleep)
    stamps = []
    for _ in range(23):
        limiter.acquire()
        stamps.append(fake.t)
    for start in stamps:
        assert sum(1 for s in stamps if start <= s < start + 2.0) <= 5


def test_rate_limiter_threads_sleep_outside_the_lock():
    """Two threads must be able to sleep at once. The first sleeper waits (up to 5 s) for a second one to
    arrive: if sleeping held the lock, no second thread could get past `_try_acquire` and the event stays
    unset. (Elapsed time cannot tell the two apart: both finish after about one period.)"""
    asleep = 0
    guard = threading.Lock()
    two_asleep = threading.Event()

    def sleep(seconds: float) -> None:
        nonlocal asleep
        with guard:
            asleep += 1
            if asleep >= 2:
                two_asleep.set()
        two_asleep.wait(timeout=5)
        time.sleep(seconds)
        with guard:
            asleep -= 1

    limiter = RateLimiter(1, 0.2, sleep=sleep)
    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: limiter.acquire(), range(3)))
    assert two_asleep.is_set(), "only one thread could wait at a time: the limiter sleeps holding its lock"
    assert time.monotonic() - started >= 0.39  # 3 acquisitions at 1 per 0.2 s


def test_rate_limiter_rejects_nonsense():
    with pytest.raises(ConfigError):
        RateLimiter(0, 10)
    with pytest.raises(ConfigError):
        RateLimiter(5, 0)


def test_rate_limiter_hold_pauses_every_acquirer_until_it_ends():
    fake = FakeClock()
    limiter = RateLimiter(100, 1.0, clock=fake, sleep=fake.sleep)
    limiter.acquire()
    limiter.hold(4.0)
    limiter.hold(1.0)  # a shorter hold does not cut the longer one short
    limiter.acquire()
    assert fake.sleeps == [pytest.approx(4.0)]
    limiter.acquire()  # the hold is over
    assert len(fake.sleeps) == 1


def test_rate_limiter_halves_its_rate_when_refused_and_earns_it_back_a_window_at_a_time():
    fake = FakeClock()
    limiter = RateLimiter(100, 1.0, clock=fake, sleep=fake.sleep)
    limiter.refused()
    limiter.refused()  # a second 429 of the same window was sent at the old rate
    assert limiter.limit == 50
    for expected in (25, 12, 6, 3, 1, 1):
        fake.t += 1.0
        limiter.refused()
        assert limiter.limit == expected
    assert limiter.limit == 1  # never below one request per period
    for _ in range(3):
        limiter.acquire()  # one per second now
    assert fake.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]
    limiter.succeeded()  # a window's worth at 1/s
    assert limiter.limit == 2
    for _ in range(2):
        limiter.succeeded()
    assert limiter.limit == 3
    windows = 0
    while limiter.limit < 100:  # a quarter more per window's worth: back within a few dozen windows
        for _ in range(limiter.limit):
            limiter.succeeded()
        windows += 1
    assert windows < 25
    limiter.succeeded()
    assert limiter.limit == 100  # never above the ceiling


def test_an_adaptive_limiter_settles_under_a_vendor_that_allows_less_than_its_ceiling():
    """A vendor allowing 10 a second, a limiter allowing 100: after the 429s the rate in force stays at or
    below the vendor's, give or take the probe that finds the edge again."""
    fake = FakeClock()
    limiter = RateLimiter(100, 1.0, clock=fake, sleep=fake.sleep)
    answered: list[float] = []
    refused: list[bool] = []
    for _ in range(600):
        limiter.acquire()
        refused.append(sum(1 for t in answered if fake.t - t < 1.0) >= 10)
        limiter.refused() if refused[-1] else limiter.succeeded()
        answered.append(fake.t)  # refused requests count toward the vendor's window too
    # settled near the vendor's 10 a second: most of what it allows, rarely more than it allows
    rate = 300 / (answered[-1] - answered[300])
    assert 6 <= rate <= 12, rate
    # a fixed 100/s would be refused on nine requests of ten, all along; settled, about one in ten is a probe
    assert sum(refused) < 150 and sum(refused[300:]) < 30, (sum(refused), sum(refused[300:]))


def test_every_limiter_starts_each_run_at_its_configured_rate():
    fake = FakeClock()
    limiter = RateLimiter(40, 1.0, clock=fake, sleep=fake.sleep)
    limiter.refused()
    limiter.hold(30.0)
    assert limiter.limit == 20
    reset_all()
    assert limiter.limit == 40
    limiter.acquire()
    assert fake.sleeps == []  # the hold is gone too
