"""Window planning and bisection: pure functions, no HTTP."""

from __future__ import annotations

import datetime as dt
import itertools

import pendulum
import pytest

from sources.common.errors import ConfigError, LimitExceededError
from sources.common.stats import RUN_STATS
from sources.common.windows import DateWindow, fetch_with_split, plan_windows

D = pendulum.date


def covers_exactly(windows: list[DateWindow], start: pendulum.Date, end: pendulum.Date) -> bool:
    """Contiguous, ordered, no gaps or overlaps, from start to end."""
    if windows[0].start != start or windows[-1].end != end:
        return False
    return all(b.start == a.end + dt.timedelta(days=1) for a, b in itertools.pairwise(windows))


def test_date_window_days_halves_and_validation():
    window = DateWindow(D(2026, 1, 1), D(2026, 1, 5))
    assert window.days == 5
    first, second = window.halves()
    assert (first, second) == (
        DateWindow(D(2026, 1, 1), D(2026, 1, 3)),
        DateWindow(D(2026, 1, 4), D(2026, 1, 5)),
    )
    assert DateWindow(D(2026, 1, 1), D(2026, 1, 2)).halves()[1].days == 1
    assert DateWindow(D(2024, 2, 28), D(2024, 3, 1)).days == 3  # leap day
    with pytest.raises(ValueError):
        DateWindow(D(2026, 1, 1), D(2026, 1, 1)).halves()
    with pytest.raises(ConfigError, match="after its end"):
        DateWindow(D(2026, 1, 2), D(2026, 1, 1))
    with pytest.raises(TypeError):
        DateWindow(pendulum.datetime(2026, 1, 1), D(2026, 1, 2))
    plain = DateWindow(dt.date(2026, 1, 1), dt.date(2026, 1, 1))
    assert isinstance(plain.start, pendulum.Date) and str(plain) == "2026-01-01"


@pytest.mark.parametrize(
    ("days", "max_points", "points_per_day", "expected_sizes"),
    [
        (1, 500, 1, [1]),
        (500, 500, 1, [500]),
        (501, 500, 1, [500, 1]),
        (1000, 500, 1, [500, 500]),
        (45, 500, 24, [20, 20, 5]),  # hourly: 24 buckets a day, 20 days = 480 <= 500
        (20, 500, 24, [20]),
        (3, 24, 24, [1, 1, 1]),
        (5000, 500, 1 / 7, [3500, 1500]),  # weekly
    ],
)
def test_plan_windows(days, max_points, points_per_day, expected_sizes):
    start = D(2025, 1, 1)
    end = start.add(days=days - 1)
    windows = plan_windows(start, end, max_points=max_points, points_per_day=points_per_day)
    assert [w.days for w in windows] == expected_sizes
    assert covers_exactly(windows, start, end)
    assert all(w.days * points_per_day <= max_points + 1e-6 for w in windows)


def test_plan_windows_rejects_impossible_limits():
    with pytest.raises(ConfigError, match="coarser granularity"):
        plan_windows(D(2025, 1, 1), D(2025, 1, 2), max_points=23, points_per_day=24)
    with pytest.raises(ConfigError):
        plan_windows(D(2025, 1, 1), D(2025, 1, 2), max_points=0)
    with pytest.raises(ConfigError):
        plan_windows(D(2025, 1, 3), D(2025, 1, 2), max_points=500)


def limit_error() -> LimitExceededError:
    return LimitExceededError(
        "hubspot refused a request over its result limit (501) on analytics/pages/total: narrow the range.",
        vendor="hubspot",
        endpoint="analytics/pages/total",
        status=501,
        vendor_message="RESULT_LIMIT_EXCEEDED",
        request_id="r-1",
    )


@pytest.mark.parametrize(("total_days", "max_ok"), [(1, 1), (2, 1), (31, 7), (100, 3), (365, 30), (64, 64)])
def test_fetch_with_split_covers_without_gaps_or_overlap(total_days, max_ok):
    calls: list[DateWindow] = []

    def fetch(window: DateWindow) -> list[str]:
        calls.append(window)
        if window.days > max_ok:
            raise limit_error()
        return [str(window)]

    start = D(2025, 3, 1)
    window = DateWindow(start, start.add(days=total_days - 1))
    results = fetch_with_split(window, fetch, vendor="hubspot", what="pages report")
    windows = [w for w, _ in results]
    assert covers_exactly(windows, window.start, window.end)
    assert all(w.days <= max_ok for w in windows)
    assert all(result == [str(w)] for w, result in results)
    failed = [w for w in calls if w.days > max_ok]
    assert RUN_STATS.splits["hubspot"] == len(failed)


def test_fetch_with_split_one_day_failure_names_what_and_day():
    def fetch(window: DateWindow) -> None:
        raise limit_error()

    with pytest.raises(LimitExceededError) as caught:
        fetch_with_split(DateWindow(D(2026, 1, 1), D(2026, 1, 2)), fetch, vendor="hubspot", what="pages report")
    err = caught.value
    message = str(err)
    assert "pages report" in message and "2026-01-01" in message
    assert "cannot be met even for one day" in message
    assert (err.status, err.request_id, err.vendor_message) == (501, "r-1", "RESULT_LIMIT_EXCEEDED")
    assert RUN_STATS.splits["hubspot"] == 1


def test_fetch_with_split_other_errors_propagate_unsplit():
    def fetch(window: DateWindow) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fetch_with_split(DateWindow(D(2026, 1, 1), D(2026, 1, 9)), fetch, vendor="hubspot", what="x")
    assert RUN_STATS.splits["hubspot"] == 0
