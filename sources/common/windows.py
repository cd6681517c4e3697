"""Date windows: plan requests under a vendor's points-per-request limit, and bisect when one is refused.

HubSpot refuses more than 500 time points per request (413) and too-large or too-slow results (501);
Humblytics refuses more than 500 buckets (400). Planning keeps requests under the documented limit;
`fetch_with_split` handles the limits nobody can plan for (result size, scan time) by halving.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pendulum

from .errors import ConfigError, LimitExceededError
from .stats import RUN_STATS

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _as_date(value: dt.date, what: str) -> pendulum.Date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"DateWindow {what} must be a date, not {type(value).__name__}")
    return value if isinstance(value, pendulum.Date) else pendulum.Date(value.year, value.month, value.day)


@dataclass(frozen=True)
class DateWindow:
    """An inclusive range of calendar days, `start..end`."""

    start: pendulum.Date
    end: pendulum.Date

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _as_date(self.start, "start"))
        object.__setattr__(self, "end", _as_date(self.end, "end"))
        if self.start > self.end:
            raise ConfigError(f"The date range starts on {self.start}, after its end {self.end}: swap or fix them.")

    @property
    def days(self) -> int:
        """Number of days covered, both ends included."""
        return self.end.toordinal() - self.start.toordinal() + 1

    def halves(self) -> tuple[DateWindow, DateWindow]:
        """Two contiguous windows covering this one (the first gets the extra day if odd)."""
        if self.days < 2:
            raise ValueError(f"a one-day window ({self}) cannot be halved")
        first_end = self.start + dt.timedelta(days=math.ceil(self.days / 2) - 1)
        return DateWindow(self.start, first_end), DateWindow(first_end + dt.timedelta(days=1), self.end)

    def __str__(self) -> str:
        return str(self.start) if self.days == 1 else f"{self.start}..{self.end}"


def plan_windows(start: dt.date, end: dt.date, *, max_points: int, points_per_day: float = 1) -> list[DateWindow]:
    """The fewest contiguous windows covering `start..end` (inclusive), each within `max_points`.

    `points_per_day` is what one day costs: 1 for daily series, 24 for hourly buckets, 1/7 for weekly.
    """
    whole = DateWindow(_as_date(start, "start"), _as_date(end, "end"))
    if max_points < 1 or points_per_day <= 0:
        raise ConfigError(f"A window plan needs positive limits, got max_points={max_points}, {points_per_day}/day.")
    days_per_window = math.floor(max_points / points_per_day + 1e-9)
    if days_per_window < 1:
        raise ConfigError(
            f"One day costs {points_per_day} points, over the limit of {max_points} per request: "
            "use a coarser granularity."
        )
    windows = []
    cursor = whole.start
    while cursor <= whole.end:
        last = min(cursor + dt.timedelta(days=days_per_window - 1), whole.end)
        windows.append(DateWindow(cursor, last))
        cursor = last + dt.timedelta(days=1)
    return windows


def fetch_with_split(
    window: DateWindow, fetch: Callable[[DateWindow], T], *, vendor: str, what: str
) -> list[tuple[DateWindow, T]]:
    """`[(window, fetch(window))]`, bisecting (recursively, in date order) on `LimitExceededError`.

    `fetch` must materialise its result (not return a lazy generator), or the limit error escapes here.
    A one-day window that is still refused cannot be narrowed: that raises `LimitExceededError`.
    """
    try:
        return [(window, fetch(window))]
    except LimitExceededError as exc:
        refused = exc
    if window.days == 1:
        raise LimitExceededError(
            f"{vendor} refused {what} for {window.start} even for a single day"
            f"{f' ({refused.vendor_message})' if refused.vendor_message else ''}: the vendor limit cannot be "
            "met even for one day; add filters or a coarser report.",
            vendor=refused.vendor,
            endpoint=refused.endpoint,
            status=refused.status,
            url=refused.url,
            vendor_message=refused.vendor_message,
            request_id=refused.request_id,
        ) from refused
    RUN_STATS.add_split(vendor)
    first, second = window.halves()
    logger.info("%s %s: %s over the vendor limit, splitting into %s and %s", vendor, what, window, first, second)
    return fetch_with_split(first, fetch, vendor=vendor, what=what) + fetch_with_split(
        second, fetch, vendor=vendor, what=what
    )
