"""The `end` readings, meta checks, bucket filtering and window planning (sources/humblytics/ranges.py).

Pure functions, plus one contract check: every planned window is accepted by the Humblytics simulator
under both readings of `end`, hourly across a DST change included.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pendulum
import pytest

from sandbox.core import HUMBLYTICS_KEY, HUMBLYTICS_PROPERTY, SandboxConfig, SandboxRequest
from sandbox.humblytics import HumblyticsSim
from sources.common.windows import DateWindow
from sources.humblytics.parse import Meta, parse_meta
from sources.humblytics.ranges import (
    Coverage,
    EndReading,
    MetaMismatch,
    check_meta,
    coverage,
    end_day,
    is_expected_extra,
    local_midnight,
    range_params,
    reading_of,
    split_buckets,
    trend_windows,
)

NY = "America/New_York"
D = pendulum.date
# facts.md: the one published response (start=2024-05-01&end=2024-05-07, day, America/New_York).
SAMPLE_META = {
    "property_id": "p",
    "start": "2024-05-01T04:00:00.000Z",
    "end": "2024-05-07T03:59:59.000Z",
    "timezone": NY,
    "granularity": "day",
    "bucket_count": 7,
}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# --- which `end` to send -------------------------------------------------------------------------------


def test_end_sent_for_each_reading() -> None:
    days = DateWindow(D(2026, 11, 10), D(2026, 11, 19))
    assert range_params(days, None) == {"start": "2026-11-10", "end": "2026-11-20"}  # unknown: exclusive form
    assert range_params(days, EndReading.EXCLUSIVE) == {"start": "2026-11-10", "end": "2026-11-20"}
    assert range_params(days, EndReading.INCLUSIVE) == {"start": "2026-11-10", "end": "2026-11-19"}
    assert end_day(D(2026, 12, 31), None) == D(2027, 1, 1)


# --- what the meta says --------------------------------------------------------------------------------


def test_published_sample_reads_end_as_exclusive() -> None:
    meta = parse_meta({"meta": SAMPLE_META, "data": []})
    assert coverage(meta, NY) == Coverage(D(2024, 5, 1), D(2024, 5, 6))
    assert reading_of(D(2024, 5, 7), D(2024, 5, 6)) is EndReading.EXCLUSIVE
    # the same request under the other reading: meta.end is the last second of 05-07 in New York
    inclusive = replace(meta, end=utc(2024, 5, 8, 3, 59, 59))
    assert coverage(inclusive, NY).last == D(2024, 5, 7)
    assert reading_of(D(2024, 5, 7), D(2024, 5, 7)) is EndReading.INCLUSIVE
    assert reading_of(D(2024, 5, 7), D(2024, 5, 5)) is None


def test_meta_end_written_as_the_exclusive_instant_is_the_same_day() -> None:
    meta = Meta(start=utc(2024, 5, 1, 4), end=utc(2024, 5, 7, 4))  # 05-07 00:00 New York, exactly
    assert coverage(meta, NY).last == D(2024, 5, 6)


def _check(meta: Meta) -> Coverage:
    days = DateWindow(D(2024, 5, 1), D(2024, 5, 6))
    return check_meta(meta, property_id="p", timezone=NY, granularity="day", days=days, sent_end=D(2024, 5, 7))


def test_check_meta_accepts_the_sample_and_an_empty_meta() -> None:
    assert _check(parse_meta({"meta": SAMPLE_META})) == Coverage(D(2024, 5, 1), D(2024, 5, 6))
    assert _check(parse_meta({"data": []})) == Coverage(None, None)  # nothing said, nothing checked


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("property_id", "other", "property_id"),
        ("timezone", "UTC", "timezone"),
        ("granularity", "hour", "granularity"),
        ("start", "2024-05-01T00:00:00.000Z", "meta.start is on 2024-04-30"),
        ("end", "2024-05-05T03:59:59.000Z", "no reading"),
        ("end", "2024-05-09T03:59:59.000Z", "no reading"),
    ],
)
def test_check_meta_refuses_an_answer_for_other_days(field: str, value: str, needle: str) -> None:
    with pytest.raises(MetaMismatch, match=needle):
        _check(parse_meta({"meta": {**SAMPLE_META, field: value}}))


# --- buckets -------------------------------------------------------------------------------------------


def test_buckets_are_kept_by_their_local_start_day_across_dst() -> None:
    """New York springs forward on 2026-03-08: that day starts at 05:00Z, the next at 04:00Z."""
    rows = [
        {"bucket": utc(2026, 3, 7, 5), "pageviews": 1},
        {"bucket": utc(2026, 3, 8, 5), "pageviews": 2},
        {"bucket": utc(2026, 3, 9, 4), "pageviews": 3},
        {"bucket": utc(2026, 3, 10, 4), "pageviews": 0},  # the trailing bucket at `end`
    ]
    split = split_buckets(rows, DateWindow(D(2026, 3, 7), D(2026, 3, 9)), NY)
    assert [(r["date"], r["pageviews"]) for r in split.kept] == [
        (D(2026, 3, 7), 1),
        (D(2026, 3, 8), 2),
        (D(2026, 3, 9), 3),
    ]
    assert split.outside == rows[3:]
    # the same instants in UTC are other days
    utc_split = split_buckets(rows, DateWindow(D(2026, 3, 7), D(2026, 3, 9)), "UTC")
    assert [r["date"] for r in utc_split.kept] == [D(2026, 3, 7), D(2026, 3, 8), D(2026, 3, 9)]


def test_zero_buckets_are_kept() -> None:
    rows = [{"bucket": utc(2026, 1, 1), "pageviews": 0, "unique_visitors": 0}]
    assert len(split_buckets(rows, DateWindow(D(2026, 1, 1), D(2026, 1, 1)), "UTC").kept) == 1


def test_only_the_empty_trailing_bucket_of_the_exclusive_reading_is_expected() -> None:
    days = DateWindow(D(2026, 3, 7), D(2026, 3, 9))
    trailing = {"bucket": local_midnight(D(2026, 3, 10), NY), "pageviews": 0, "unique_visitors": 0}
    assert trailing["bucket"] == utc(2026, 3, 10, 4)
    assert is_expected_extra(trailing, days, NY, EndReading.EXCLUSIVE)
    assert is_expected_extra(trailing, days, NY, None)
    assert not is_expected_extra(trailing, days, NY, EndReading.INCLUSIVE)
    assert not is_expected_extra({**trailing, "pageviews": 3}, days, NY, EndReading.EXCLUSIVE)
    assert not is_expected_extra({**trailing, "bucket": utc(2026, 3, 7, 4)}, days, NY, EndReading.EXCLUSIVE)


# --- window planning -----------------------------------------------------------------------------------


def test_daily_windows_leave_room_for_one_extra_day() -> None:
    windows = trend_windows(DateWindow(D(2024, 1, 1), D(2026, 12, 31)), "day")
    assert [w.days for w in windows] == [499, 499, 98]
    assert windows[0] == DateWindow(D(2024, 1, 1), D(2025, 5, 13))
    assert trend_windows(DateWindow(D(2026, 11, 10), D(2026, 11, 19))) == [DateWindow(D(2026, 11, 10), D(2026, 11, 19))]


def test_hourly_windows_count_the_longest_local_day() -> None:
    windows = trend_windows(DateWindow(D(2026, 10, 20), D(2026, 11, 30)), "hour")
    assert [w.days for w in windows] == [19, 19, 4]  # (19 + 1) days x 25 hours = 500 buckets
    with pytest.raises(ValueError, match="granularity"):
        trend_windows(DateWindow(D(2026, 1, 1), D(2026, 1, 2)), "minute")


def _sim_status(window: DateWindow, sent: EndReading | None, granularity: str, config: SandboxConfig) -> int:
    query = "&".join(f"{k}={v}" for k, v in range_params(window, sent).items())
    path = f"/api/external/v1/properties/{HUMBLYTICS_PROPERTY}/traffic/trends"
    target = f"{path}?{query}&granularity={granularity}&timezone={NY}"
    request = SandboxRequest.build("GET", target, {"Authorization": f"Bearer {HUMBLYTICS_KEY}"})
    return HumblyticsSim().handle(request, config).status


@pytest.mark.parametrize("inclusive", [False, True], ids=["exclusive", "inclusive"])
@pytest.mark.parametrize("granularity", ["day", "hour"])
@pytest.mark.parametrize("known", [False, True], ids=["reading-unknown", "reading-known"])
def test_planned_windows_fit_the_simulator_under_both_readings(inclusive: bool, granularity: str, known: bool) -> None:
    """Hourly windows cross New York's fall-back day (2026-11-01, 25 hours); daily ones span years."""
    config = SandboxConfig(today=D(2026, 11, 20), humblytics_end_inclusive=inclusive)
    first = D(2026, 10, 3) if granularity == "hour" else D(2024, 1, 1)
    days = DateWindow(first, D(2026, 11, 19))
    sent = (EndReading.INCLUSIVE if inclusive else EndReading.EXCLUSIVE) if known else None
    windows = trend_windows(days, granularity)
    assert len(windows) > 1
    for window in windows:
        assert _sim_status(window, sent, granularity, config) == 200, window
    # the plan is tight where it must be: with the reading unknown, one day more is refused (by day; by hour
    # under the inclusive reading, whose extra day is 24 buckets)
    if not known and (granularity == "day" or inclusive):
        longest = max(windows, key=lambda w: w.days)
        wider = DateWindow(longest.start, longest.end.add(days=1))
        assert _sim_status(wider, sent, granularity, config) == 400
