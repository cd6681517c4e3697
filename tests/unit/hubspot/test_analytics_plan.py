"""Request planning of the analytics resources, with a fake client (no HTTP, no dlt pipeline)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pendulum
import pytest

from sources.common.errors import AuthError, ConfigError, LimitExceededError
from sources.common.windows import DateWindow
from sources.hubspot import analytics, settings
from sources.hubspot.analytics import ReportSpec


def _days(params: Mapping[str, Any]) -> list[str]:
    start = pendulum.from_format(params["start"], "YYYYMMDD").date()
    end = pendulum.from_format(params["end"], "YYYYMMDD").date()
    return [(start.add(days=i)).isoformat() for i in range((end - start).days + 1)]


class FakeClient:
    """Answers like the vendor document: `total` pages of breakdowns, `daily` day-keyed rows.

    `max_days`: windows longer than this get a 413 (as hubspot-analytics-api.txt's point limit would).
    """

    vendor = "hubspot"

    def __init__(self, breakdowns: dict[str, list[str]], max_days: int = 500, page: int = 2) -> None:
        self.breakdowns = breakdowns
        self.max_days = max_days
        self.page = page
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _check(self, path: str, params: Mapping[str, Any]) -> None:
        self.calls.append((path, dict(params)))
        if len(_days(params)) > self.max_days:
            raise LimitExceededError("too many points", vendor="hubspot", endpoint=path, status=413)

    def get_json(self, path: str, *, endpoint: str | None = None, params: Mapping[str, Any]) -> Any:
        self._check(path, params)
        drill = params.get("d2") or params.get("d1") or ""
        values = self.breakdowns.get(drill, ["x"])
        return {day: [{"breakdown": v, "visits": 1} for v in values] for day in _days(params)}

    def request_decoded(
        self, method: str, path: str, *, endpoint: str, params: Mapping[str, Any], json: Any, **_: Any
    ) -> tuple[None, Any]:
        return None, self.request_json(method, path, endpoint=endpoint, params=params, json=json)

    def request_json(self, method: str, path: str, *, endpoint: str, params: Mapping[str, Any], json: Any) -> Any:
        self._check(path, params)
        drill = params.get("d1") or ""
        values = self.breakdowns.get(drill, [])
        offset, limit = int(params["offset"]), self.page
        chunk = values[offset : offset + limit]
        return {
            "offset": offset + len(chunk),
            "total": len(values),
            "breakdowns": [{"breakdown": v} for v in chunk],
        }


SOURCES = {"": ["direct", "organic", "paid", "referrals"], "organic": ["kw1", "kw2", "kw3"], "paid": ["ad1"]}
WINDOW = DateWindow(pendulum.date(2026, 11, 1), pendulum.date(2026, 11, 5))


def _kinds(client: FakeClient) -> list[tuple[str, str, str]]:
    return [(p.rsplit("/", 1)[-1], q.get("d1", ""), q.get("d2", "")) for p, q in client.calls]


def test_flat_report_is_one_daily_request_per_window() -> None:
    client = FakeClient({"": ["a", "b"]})
    pages = list(analytics._window_pages(client, ReportSpec.for_report("utm-campaigns"), WINDOW))
    assert _kinds(client) == [("daily", "", "")]
    assert len(pages) == 1 and len(pages[0]) == 10  # 5 days x 2 breakdowns, one page


def test_sources_discovers_d1_and_d2_from_total() -> None:
    client = FakeClient(SOURCES)
    rows = [r for page in analytics._window_pages(client, ReportSpec.for_report("sources"), WINDOW) for r in page]
    kinds = _kinds(client)
    # discovery: one paged `total` per drill level (page size 2: 4 values = 2 pages, 3 values = 2 pages)
    assert kinds.count(("total", "", "")) == 2
    assert kinds.count(("total", "organic", "")) == 2
    assert kinds.count(("total", "paid", "")) == 1
    assert ("total", "direct", "") not in kinds  # d2 only for organic and paid (settings.DRILLDOWN_D2)
    dailies = [k for k in kinds if k[0] == "daily"]
    assert dailies == [
        ("daily", "", ""),
        ("daily", "direct", ""),
        ("daily", "organic", ""),
        ("daily", "organic", "kw1"),
        ("daily", "organic", "kw2"),
        ("daily", "organic", "kw3"),
        ("daily", "paid", ""),
        ("daily", "paid", "ad1"),
        ("daily", "referrals", ""),
    ]
    keys = {(r["date"], r["d1"], r["d2"], r["breakdown"]) for r in rows}
    assert len(keys) == len(rows)  # the primary key is unique


def test_limit_exceeded_bisects_and_covers_every_day_once() -> None:
    client = FakeClient({"": ["a"]}, max_days=2)
    rows = [r for page in analytics._window_pages(client, ReportSpec.for_report("totals"), WINDOW) for r in page]
    assert sorted(r["date"].isoformat() for r in rows) == [f"2026-11-0{d}" for d in range(1, 6)]
    assert len(client.calls) > 1


def test_one_day_that_still_fails_names_report_and_day() -> None:
    client = FakeClient({"": ["a"]}, max_days=0)
    with pytest.raises(LimitExceededError) as err:
        list(analytics._window_pages(client, ReportSpec.for_report("forms"), WINDOW))
    assert "forms" in str(err.value)
    assert "2026-11-01" in str(err.value)


def test_report_resources_refuses_bad_config_before_any_request() -> None:
    client = FakeClient({})
    start = pendulum.date(2026, 11, 1)
    with pytest.raises(ConfigError, match="pagez"):
        analytics.report_resources(client, reports=["pagez"], start_date=start, lookback_days=3, backfill=None)
    with pytest.raises(ConfigError):
        analytics.report_resources(client, reports=["totals"], start_date=start, lookback_days=-1, backfill=None)
    with pytest.raises(ConfigError):
        analytics.report_resources(
            client,
            reports=["totals"],
            start_date=start,
            lookback_days=3,
            backfill=(start, start.subtract(days=1)),
        )
    assert client.calls == []


def test_report_resources_names_tables_and_keys() -> None:
    resources = analytics.report_resources(
        FakeClient({}),
        reports=["totals", "utm-campaigns"],
        start_date=pendulum.date(2026, 11, 1),
        lookback_days=3,
        backfill=None,
    )
    assert [r.name for r in resources] == ["hubspot_analytics_totals", "hubspot_analytics_utm_campaigns"]
    table = resources[1].compute_table_schema()
    assert table["name"] == "hubspot_analytics_utm_campaigns"
    assert table["write_disposition"] == "merge"
    keys = [c for c, col in table["columns"].items() if col.get("primary_key")]
    assert keys == ["date", "d1", "d2", "breakdown"]
    assert table["columns"]["bounce_rate"]["data_type"] == "double"


def test_a_failing_drilldown_request_fails_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "DRILL_WORKERS", 1)
    values = [f"s{i}" for i in range(6)]
    client = FakeClient({"": values})
    original = client.get_json

    def get_json(path: str, *, endpoint: str | None = None, params: Mapping[str, Any]) -> Any:
        if params.get("d1") == "s4":
            raise AuthError("denied", vendor="hubspot", endpoint=path, status=403)
        return original(path, endpoint=endpoint, params=params)

    client.get_json = get_json  # type: ignore[method-assign]
    pages = analytics._window_pages(client, ReportSpec.for_report("sources"), WINDOW)
    with pytest.raises(AuthError):
        list(pages)
