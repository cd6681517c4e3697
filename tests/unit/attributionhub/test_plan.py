"""Snapshot planning, whole-day units, completeness, and the quota/budget verdicts, without HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pendulum
import pytest

from sources.attributionhub.client import RequestBudget, classify
from sources.attributionhub.conversions import completeness_problem, plan_conversion_windows
from sources.attributionhub.insights import Snapshot, plan_snapshots, whole_days
from sources.attributionhub.segments import Segment
from sources.common.errors import QuotaExhaustedError
from sources.common.windows import DateWindow


def d(month: int, day: int, year: int = 2026) -> pendulum.Date:
    return pendulum.date(year, month, day)


def test_days_then_each_month_after_its_last_day() -> None:
    plan = plan_snapshots(DateWindow(d(10, 30), d(12, 1)))
    months = [(s.window.start, s.window.end) for s in plan if s.period == "month"]
    assert months == [(d(10, 1), d(10, 31)), (d(11, 1), d(11, 30))]
    days = [s.window for s in plan if s.period == "day"]
    assert len(days) == 33 and all(w.start == w.end for w in days)
    ends = [s.window.end for s in plan]
    assert ends == sorted(ends)  # the cursor's order
    assert plan[2] == Snapshot("month", DateWindow(d(10, 1), d(10, 31)))  # right after 10-31's day


def test_no_month_until_it_is_complete() -> None:
    assert all(s.period == "day" for s in plan_snapshots(DateWindow(d(11, 1), d(11, 29))))
    leap = plan_snapshots(DateWindow(d(2, 29, 2028), d(2, 29, 2028)))
    assert [s.window for s in leap if s.period == "month"] == [DateWindow(d(2, 1, 2028), d(2, 29, 2028))]


def spans(windows: list[DateWindow]) -> list[str]:
    return [str(w) for w in windows]


def test_recent_days_go_one_per_request_settled_days_seven_at_a_time() -> None:
    nightly = plan_conversion_windows(DateWindow(d(11, 15), d(11, 19)), settled_before=d(11, 16))
    assert spans(nightly) == ["2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]
    first = plan_conversion_windows(DateWindow(d(10, 21), d(11, 19)), settled_before=d(11, 16))
    assert spans(first) == [
        "2026-10-21..2026-10-27",
        "2026-10-28..2026-11-03",
        "2026-11-04..2026-11-10",
        "2026-11-11..2026-11-15",
        "2026-11-16",
        "2026-11-17",
        "2026-11-18",
        "2026-11-19",
    ]
    backfill = plan_conversion_windows(DateWindow(d(1, 1), d(1, 15)), settled_before=d(11, 16))
    assert spans(backfill) == ["2026-01-01..2026-01-07", "2026-01-08..2026-01-14", "2026-01-15"]
    recent_only = plan_conversion_windows(DateWindow(d(11, 17), d(11, 18)), settled_before=d(11, 16))
    assert spans(recent_only) == ["2026-11-17", "2026-11-18"]


def test_whole_days_group_every_segment_and_drop_no_data() -> None:
    snapshots = plan_snapshots(DateWindow(d(10, 31), d(11, 1)))  # 10-31, October, 11-01
    segments = (Segment("all"), Segment("paid", (("medium", "cpc"),)))
    requests = [(s, g) for s in snapshots for g in segments]
    results = [{"n": i} if i != 3 else None for i in range(len(requests))]
    assert list(whole_days(requests, results)) == [[{"n": 0}, {"n": 1}, {"n": 2}], [{"n": 4}, {"n": 5}]]


def test_a_failure_part_way_through_a_day_yields_nothing_of_that_day() -> None:
    snapshots = plan_snapshots(DateWindow(d(11, 1), d(11, 2)))
    requests = [(s, g) for s in snapshots for g in (Segment("a"), Segment("b"))]

    def results() -> Iterator[dict[str, int]]:
        yield {"n": 0}
        yield {"n": 1}
        yield {"n": 2}
        raise QuotaExhaustedError("spent", vendor="attributionhub", endpoint="insights")

    units = whole_days(requests, results())
    assert next(units) == [{"n": 0}, {"n": 1}]
    with pytest.raises(QuotaExhaustedError):
        next(units)


def test_completeness_names_both_numbers_and_the_window() -> None:
    window = DateWindow(d(11, 13), d(11, 19))
    assert completeness_problem(window, 90, [90, 90]) is None
    assert completeness_problem(window, 0, [None]) is None  # the no-results answer has no total
    problem = completeness_problem(window, 89, [90, 90])
    assert problem is not None and "received 89" in problem and "total_records says 90;" in problem
    assert "2026-11-13..2026-11-19" in problem


def test_a_total_that_moves_while_paging_is_a_problem_even_when_the_last_matches() -> None:
    """A record inserted before the offset of the next page repeats one record and hides another."""
    problem = completeness_problem(DateWindow(d(11, 13), d(11, 19)), 91, [90, 91])
    assert problem is not None and "90, then 91 (it moved while paging)" in problem


def _response(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", "https://ah.example/api/v1/insights"))


def test_the_monthly_quota_is_terminal_and_quotes_limit_and_used() -> None:
    body = {"error": "API monthly limit exceeded.", "limit": 5000, "used": 5000, "domain": "example.com"}
    verdict = classify(_response(429, body))
    assert verdict is not None and verdict.kind is QuotaExhaustedError
    assert "limit 5000, used 5000" in verdict.what


@pytest.mark.parametrize(("status", "body"), [(429, {"error": "Too Many Requests"}), (500, {"used": 1}), (429, [1])])
def test_other_answers_keep_the_default_handling(status: int, body: object) -> None:
    assert classify(_response(status, body)) is None


def test_the_request_budget_refuses_the_request_past_it() -> None:
    budget = RequestBudget(2)
    budget.acquire()
    budget.acquire()
    with pytest.raises(QuotaExhaustedError, match="budget of 2 requests") as err:
        budget.acquire()
    assert "SOURCES__ATTRIBUTIONHUB__MAX_REQUESTS_PER_RUN" in str(err.value)
    assert budget.used == 2
