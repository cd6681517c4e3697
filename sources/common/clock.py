"""One clock for the whole project, so tests can pin "now" and nothing calls `datetime.now()` directly."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pendulum

_lock = threading.Lock()
# Module-level on purpose (not thread-local): a pinned time must hold in dlt's worker threads too.
_pinned: list[pendulum.DateTime] = []  # a stack: nested pins restore the outer one


def _system_now() -> pendulum.DateTime:
    """The single place that reads the system clock."""
    return pendulum.now("UTC")


def now() -> pendulum.DateTime:
    """The current instant in UTC (or the pinned one inside `pinned()`)."""
    with _lock:
        pinned_at = _pinned[-1] if _pinned else None
    return pinned_at if pinned_at is not None else _system_now()


def today(tz: str = "UTC") -> pendulum.Date:
    """Today's calendar date in `tz`."""
    return now().in_timezone(tz).date()


def _as_utc(value: dt.datetime | dt.date) -> pendulum.DateTime:
    if isinstance(value, dt.datetime):
        # pendulum.instance reads a naive datetime as UTC.
        return pendulum.instance(value).in_timezone("UTC")
    return pendulum.datetime(value.year, value.month, value.day, tz="UTC")


@contextmanager
def pinned(at: dt.datetime | dt.date) -> Iterator[pendulum.DateTime]:
    """Pin `now()` for every thread until the block exits; a date pins its midnight UTC.

    Only wall-clock time is pinned: `time.monotonic` (rate limits, timeouts) keeps running.
    """
    value = _as_utc(at)
    with _lock:
        _pinned.append(value)
    try:
        yield value
    finally:
        with _lock:
            _pinned.remove(value)
