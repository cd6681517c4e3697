"""`hubspot_analytics` over real HTTP against the sandbox, into DuckDB.

The sandbox's simulated today is 2026-11-20 and "now" is pinned to that night, so yesterday is 2026-11-19.
Most tests load a reduced report list from 2026-11-10 to stay fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pendulum
import pytest

from pipelines.failures import find_cause
from pipelines.warehouse import LOADER_FILE_FORMAT
from sources.common import clock
from sources.common.errors import AuthError, ConfigError, LimitExceededError
from sources.common.ratelimit import RateLimiter
from sources.common.stats import RUN_STATS
from sources.hubspot import client as hubspot_client
from sources.hubspot import hubspot_analytics, settings
from tests.support.pipelines import local_pipeline
from tests.support.stops import stopped_with

NIGHT = pendulum.datetime(2026, 11, 20, 2, tz="UTC")
START = "2026-11-10"
TABLE = "hubspot_analytics_totals"
DAYS = [pendulum.date(2026, 11, d).isoformat() for d in range(10, 20)]  # 11-10 .. 11-19
SYSTEM_COLUMNS = ("_loaded_at", "_dlt_load_id", "_dlt_id")


class Loader:
    """One dlt pipeline (state + DuckDB file) that runs `hubspot_analytics` against a sandbox."""

    def __init__(self, sandbox: Any, root: Path, name: str = "hsa") -> None:
        self.sandbox = sandbox
        self.pipeline = local_pipeline(root, name)

    def run(
        self,
        *,
        at: pendulum.DateTime = NIGHT,
        reports: Sequence[str] = ("totals",),
        start_date: str = START,
        token: str | None = None,
        lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
        backfill: tuple[str, str] | None = None,
    ) -> None:
        with clock.pinned(at):
            source = hubspot_analytics(
                access_token=token or self.sandbox.config.hubspot_token,
                base_url=self.sandbox.url_for("hubspot_analytics"),
                start_date=start_date,
                reports=list(reports),
                lookback_days=lookback_days,
                backfill_start=pendulum.parse(backfill[0]).date() if backfill else None,
                backfill_end=pendulum.parse(backfill[1]).date() if backfill else None,
            )
            self.pipeline.run(source, loader_file_format=LOADER_FILE_FORMAT["duckdb"])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql)]

    def rows(self, table: str = TABLE) -> list[tuple[Any, ...]]:
        """Every business column of `table`, sorted, without load bookkeeping."""
        columns = [c for c in self.pipeline.default_schema.get_table_columns(table) if c not in SYSTEM_COLUMNS]
        return self.query(f"SELECT {', '.join(columns)} FROM {table} ORDER BY date, d1, d2, breakdown")

    def days(self, table: str = TABLE) -> list[str]:
        return [d.isoformat() for (d,) in self.query(f"SELECT DISTINCT date FROM {table} ORDER BY 1")]

    def cursor(self, table: str = TABLE) -> Any:
        resources = self.pipeline.state["sources"]["hubspot_analytics"]["resources"]
        return resources[table]["incremental"]["date"]


def analytics_requests(sandbox: Any, kind: str = "") -> list[dict[str, Any]]:
    """Logged analytics requests whose path ends with `kind` (e.g. "totals/daily"), flattened queries."""
    out = []
    for entry in sandbox.request_log:
        if entry["vendor"] == "hubspot_analytics" and entry["path"].endswith(kind):
            out.append({**{k: v[0] for k, v in entry["query"].items()}, "status": entry["status"]})
    return out


@pytest.fixture(autouse=True)
def _fresh_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is its own "night": fresh counters and a fresh HubSpot burst budget.

    The budget is the real one (settings.RATE_LIMIT); only the earlier tests' requests are forgotten.
    """
    RUN_STATS.reset()
    monkeypatch.setattr(hubspot_client, "_LIMITER", RateLimiter(*settings.RATE_LIMIT))


@pytest.fixture
def loader(sandbox: Any, tmp_path: Path) -> Loader:
    return Loader(sandbox, tmp_path)


def assert_unique_keys(loader: Loader, table: str) -> None:
    dupes = loader.query(f"SELECT date, d1, d2, breakdown FROM {table} GROUP BY ALL HAVING COUNT(*) > 1 LIMIT 5")
    assert dupes == [], f"{table} has duplicate keys: {dupes}"


# --- one night ---------------------------------------------------------------------------------------


def test_nightly_default_reports_one_window_each(sandbox: Any, loader: Loader) -> None:
    loader.run(reports=settings.DEFAULT_REPORTS)
    tables = {t for t in loader.pipeline.default_schema.data_table_names()}
    assert tables == {"hubspot_analytics_" + r.replace("-", "_") for r in settings.DEFAULT_REPORTS}
    for table in tables:
        assert loader.days(table) == DAYS, table
        assert_unique_keys(loader, table)
    # Request economy: one `daily` per report and drilldown value, one `total` per drill level.
    requests = analytics_requests(sandbox)
    assert all(r["status"] == 200 and (r["start"], r["end"]) == ("20261110", "20261119") for r in requests)
    totals = analytics_requests(sandbox, "/total")
    assert sorted(r.get("d1", "") for r in totals) == ["", "organic", "paid"]
    (n_d1,) = loader.query("SELECT COUNT(DISTINCT d1) FROM hubspot_analytics_sources WHERE d1 <> ''")[0]
    (n_d2,) = loader.query("SELECT COUNT(DISTINCT (d1, d2)) FROM hubspot_analytics_sources WHERE d2 <> ''")[0]
    assert len(requests) - len(totals) == 10 + 1 + n_d1 + n_d2
    assert (n_d1, n_d2, len(requests)) == (8, 13, 35)  # the sandbox's sources: 8 types, 8 + 5 children
    deep = loader.query("SELECT DISTINCT d1 FROM hubspot_analytics_sources WHERE d2 <> '' ORDER BY 1")
    assert deep == [("organic",), ("paid",)]


def test_column_types_date_and_doubles(loader: Loader) -> None:
    loader.run(reports=["totals", "utm-campaigns"])
    types = dict(
        loader.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'marketing' AND table_name = 'hubspot_analytics_utm_campaigns'"
        )
    )
    assert types["date"] == "DATE"
    assert types["breakdown"] == types["d1"] == types["d2"] == "VARCHAR"
    assert types["_loaded_at"] == "TIMESTAMP WITH TIME ZONE"
    for ratio in ("bounce_rate", "pageviews_per_session", "time_per_session", "session_to_contact_rate"):
        assert types[ratio] == "DOUBLE", ratio
    assert types["visits"] == "BIGINT"
    assert loader.query(f"SELECT DISTINCT breakdown, d1, d2 FROM {TABLE}") == [("", "", "")]
    assert loader.query(f"SELECT DISTINCT _loaded_at FROM {TABLE}") == [(NIGHT,)]


def test_nothing_to_do_when_start_is_today(sandbox: Any, loader: Loader) -> None:
    loader.run(start_date="2026-11-20")
    assert analytics_requests(sandbox) == []
    assert TABLE not in loader.pipeline.default_schema.data_table_names()


def test_unknown_report_is_refused_before_any_request(sandbox: Any, loader: Loader) -> None:
    with pytest.raises(Exception) as err:
        loader.run(reports=["totals", "page-views"])
    config_error = find_cause(err.value, ConfigError)
    assert config_error is not None and "page-views" in str(config_error)
    assert analytics_requests(sandbox) == []


# --- vendor limits -----------------------------------------------------------------------------------


def test_planned_windows_one_daily_request_each(sandbox: Any, loader: Loader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_TIME_POINTS", 3)
    loader.run()
    spans = [(r["start"], r["end"]) for r in analytics_requests(sandbox, "totals/daily")]
    assert spans == [
        ("20261110", "20261112"),
        ("20261113", "20261115"),
        ("20261116", "20261118"),
        ("20261119", "20261119"),
    ]
    assert loader.days() == DAYS


def test_point_limit_413_splits_windows(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = sandbox_factory(hubspot_point_limit=7)
    loader = Loader(sandbox, tmp_path)
    loader.run(reports=["totals", "sources"])
    statuses = [r["status"] for r in analytics_requests(sandbox, "totals/daily")]
    assert statuses == [413, 200, 200]  # 10 days → 5 + 5
    assert sandbox.stats()["by_status"]["413"] >= 2
    assert RUN_STATS.snapshot()["splits"]["hubspot"] >= 2
    for table in (TABLE, "hubspot_analytics_sources"):
        assert loader.days(table) == DAYS
        assert_unique_keys(loader, table)


def test_scan_time_501_splits_and_matches_an_unlimited_load(sandbox: Any, sandbox_factory: Any, tmp_path: Path) -> None:
    limited = sandbox_factory(hubspot_scan_time_days=3)
    split = Loader(limited, tmp_path, name="split")
    split.run(reports=["sources"], start_date="2026-11-14")  # 6 days → 3 + 3 for every request
    assert limited.stats()["by_status"]["501"] >= 2
    whole = Loader(sandbox, tmp_path, name="whole")
    whole.run(reports=["sources"], start_date="2026-11-14")
    table = "hubspot_analytics_sources"
    assert split.rows(table) == whole.rows(table)


def test_one_day_over_the_limit_fails_naming_report_and_day(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = sandbox_factory(hubspot_point_limit=0)
    loader = Loader(sandbox, tmp_path)
    loader.run(reports=["utm-sources"])
    error = stopped_with("hubspot_analytics", LimitExceededError)
    assert "'utm-sources'" in str(error) and "2026-11-10" in str(error)


def test_total_discovery_pages_through_offsets(sandbox: Any, loader: Loader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "TOTAL_PAGE_LIMIT", 3)
    loader.run(reports=["sources"])
    top = [r for r in analytics_requests(sandbox, "sources/total") if "d1" not in r]
    assert [(int(r["offset"]), int(r["limit"])) for r in top] == [(0, 3), (3, 3), (6, 3)]
    d1_values = {d1 for (d1,) in loader.query("SELECT DISTINCT d1 FROM hubspot_analytics_sources WHERE d1 <> ''")}
    assert len(d1_values) >= 7  # every source value with data, found across the pages


# --- transient and fatal errors ----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["hubspot_analytics:status=429,count=1", "hubspot_analytics:status=503,count=2"])
def test_transient_errors_are_retried(sandbox: Any, loader: Loader, fault: str) -> None:
    sandbox.set_faults(fault)
    loader.run()
    assert loader.days() == DAYS
    status, count = fault.split("status=")[1].split(",count=")
    # the faults were really served (and each was answered by one retry), then the same request succeeded
    assert sandbox.stats()["by_vendor_status"]["hubspot_analytics"][status] == int(count)
    assert [r["status"] for r in analytics_requests(sandbox, "totals/daily")] == [int(status)] * int(count) + [200]
    assert RUN_STATS.snapshot()["retries"]["hubspot"] == int(count)


def test_401_stops_with_one_sentence_without_the_token(sandbox: Any, loader: Loader) -> None:
    token = "wrong-token-abc123"
    loader.run(token=token)
    error = stopped_with("hubspot_analytics", AuthError)
    message = str(error)
    assert message.count(". ") == 0 and message.endswith(".")
    assert token not in message and token not in repr(error)
    assert len(analytics_requests(sandbox)) == 1  # no retry of a 401


# --- incremental -------------------------------------------------------------------------------------


def test_second_nightly_reads_new_days_plus_lookback(sandbox: Any, loader: Loader) -> None:
    loader.run()
    assert loader.cursor()["last_value"] == pendulum.date(2026, 11, 19)
    sandbox.reset_stats()
    sandbox.set_today(pendulum.date(2026, 11, 21))
    loader.run(at=NIGHT.add(days=1))
    assert [(r["start"], r["end"]) for r in analytics_requests(sandbox)] == [("20261117", "20261120")]
    assert loader.days() == [*DAYS, "2026-11-20"]
    assert loader.cursor()["last_value"] == pendulum.date(2026, 11, 20)


def test_same_day_rerun_changes_nothing(loader: Loader) -> None:
    reports = ["totals", "geolocation"]
    loader.run(reports=reports)
    before = {t: loader.rows(t) for t in (TABLE, "hubspot_analytics_geolocation")}
    loader.run(reports=reports, at=NIGHT.add(hours=3))
    after = {t: loader.rows(t) for t in before}
    assert after == before


def test_restated_days_settle_after_the_lookback(sandbox: Any, sandbox_factory: Any, tmp_path: Path) -> None:
    # The sandbox restates the last 3 days (facts.md: "restated for a few days"); lookback_days is 3.
    reports = ["totals", "sources"]
    nightly = Loader(sandbox, tmp_path, name="nightly")
    for offset in range(4):  # nights of 11-20 .. 11-23: 11-19 is re-read until it is 4 days old
        sandbox.set_today(pendulum.date(2026, 11, 20 + offset))
        nightly.run(at=NIGHT.add(days=offset), reports=reports)
    fresh = Loader(sandbox_factory(today=pendulum.date(2026, 11, 23)), tmp_path, name="fresh")
    fresh.run(at=NIGHT.add(days=3), reports=reports)
    for table in (TABLE, "hubspot_analytics_sources"):
        assert nightly.rows(table) == fresh.rows(table), table
        assert_unique_keys(nightly, table)

    # Contrast: a lookback shorter than the restatement leaves a day with the numbers of its last read.
    by_day = {row[0]: row for row in fresh.rows()}
    for lookback_days, stale_day in ((0, 18), (2, 19)):
        stale = Loader(sandbox_factory(today=pendulum.date(2026, 11, 20)), tmp_path, name=f"stale{lookback_days}")
        for offset in range(4):
            stale.sandbox.set_today(pendulum.date(2026, 11, 20 + offset))
            stale.run(at=NIGHT.add(days=offset), lookback_days=lookback_days)
        stale_by_day = {row[0]: row for row in stale.rows()}
        assert stale_by_day[pendulum.date(2026, 11, stale_day)] != by_day[pendulum.date(2026, 11, stale_day)]
        assert stale_by_day[pendulum.date(2026, 11, 12)] == by_day[pendulum.date(2026, 11, 12)]


def test_backfill_reloads_the_range_and_leaves_the_cursor(sandbox: Any, loader: Loader) -> None:
    loader.run()
    cursor_before = dict(loader.cursor())
    sandbox.reset_stats()
    loader.run(backfill=("2026-11-01", "2026-11-05"), reports=["totals"])
    assert [(r["start"], r["end"]) for r in analytics_requests(sandbox)] == [("20261101", "20261105")]
    assert loader.cursor() == cursor_before
    assert loader.days() == [f"2026-11-0{d}" for d in range(1, 6)] + DAYS
    # an overlapping backfill merges, it does not duplicate
    loader.run(backfill=("2026-11-04", "2026-11-12"))
    assert_unique_keys(loader, TABLE)
    assert loader.cursor() == cursor_before


# --- the CLI, end to end -----------------------------------------------------------------------------


def test_cli_nightly_then_backfill(sandbox: Any, warehouse: Any, cli: Any) -> None:
    result = cli("run", "--sources", "hubspot_analytics")
    assert result.code == 0, result.err
    assert warehouse.count(TABLE) == len(DAYS)
    sandbox.reset_stats()
    result = cli("backfill", "--start", "2026-11-01", "--end", "2026-11-03", "--sources", "hubspot_analytics")
    assert result.code == 0, result.err
    assert warehouse.count(TABLE) == len(DAYS) + 3
    spans = {(r["start"], r["end"]) for r in analytics_requests(sandbox, "/daily")}
    assert spans == {("20261101", "20261103")}
    sandbox.reset_stats()
    assert cli("run", "--sources", "hubspot_analytics").code == 0  # the cursor still says 11-19
    assert {(r["start"], r["end"]) for r in analytics_requests(sandbox, "/daily")} == {("20261117", "20261119")}


def test_cli_401_is_one_sentence_without_the_token(
    sandbox: Any, warehouse: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__HUBSPOT__ACCESS_TOKEN", "pat-na1-secret-0000")
    result = cli("run", "--sources", "hubspot_analytics")
    assert result.code != 0
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "credentials" in errors[0], result.err
    assert "pat-na1-secret-0000" not in result.err + result.out
