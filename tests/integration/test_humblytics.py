"""`humblytics` over real HTTP against the sandbox, into DuckDB.

The sandbox's simulated today is 2026-11-20 and "now" is pinned to that night (02:00 UTC), so yesterday is
2026-11-19 in UTC. Most tests load 2026-11-10 .. 2026-11-19 (10 days) to stay fast.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pendulum
import pytest

from pipelines.warehouse import LOADER_FILE_FORMAT
from sources.common import clock
from sources.common.errors import RetriesExhaustedError, VendorError
from sources.common.partial import STOPS
from sources.common.stats import RUN_STATS
from sources.humblytics import humblytics, settings
from tests.support.pipelines import local_pipeline

# These tests count requests and retries exactly: the hard sandbox's 10 requests a second would add 429s and
# retries to every count, and seconds of waiting to every run (the CLI runs in test_runs.py keep the limit on).
NO_RATE_LIMIT = {"humblytics_rate_limit": None}
pytestmark = pytest.mark.sandbox_config(**NO_RATE_LIMIT)

NIGHT = pendulum.datetime(2026, 11, 20, 2, tz="UTC")
START = "2026-11-10"
DAYS = [pendulum.date(2026, 11, d) for d in range(10, 20)]  # 11-10 .. 11-19
TABLES = {
    settings.TRENDS_TABLE: ("date",),
    settings.TRAFFIC_BREAKDOWN_TABLE: ("date", "dimension", "value"),
    settings.CLICKS_BREAKDOWN_TABLE: ("date", "page", "target"),
    settings.CLICKS_DETAILS_TABLE: ("date", "page", "target"),
    settings.FORMS_BREAKDOWN_TABLE: ("date", "page", "form"),
    settings.FORMS_DETAILS_TABLE: ("date", "page", "form"),
}
CURSOR_TABLES = (
    settings.TRENDS_TABLE,
    settings.TRAFFIC_BREAKDOWN_TABLE,
    settings.CLICKS_BREAKDOWN_TABLE,
    settings.FORMS_BREAKDOWN_TABLE,
)
SYSTEM_COLUMNS = ("_loaded_at", "_dlt_load_id", "_dlt_id")
NY = "America/New_York"


class Loader:
    """One dlt pipeline (state + DuckDB file) that runs `humblytics` against a sandbox."""

    def __init__(self, sandbox: Any, root: Path, name: str = "hum") -> None:
        self.sandbox = sandbox
        self.pipeline = local_pipeline(root, name)

    def run(
        self,
        *,
        at: pendulum.DateTime = NIGHT,
        start_date: str = START,
        timezone: str = "UTC",
        key: str | None = None,
        property_id: str | None = None,
        limit: int = settings.DEFAULT_LIMIT,
        backfill: tuple[str, str] | None = None,
        resources: Sequence[str] = (),
    ) -> list[VendorError]:
        """Run the source; returns the terminal vendor errors it stopped on (what the runner reports)."""
        config = self.sandbox.config
        with clock.pinned(at):
            source = humblytics(
                api_key=key or config.humblytics_key,
                property_id=property_id or config.humblytics_property,
                base_url=self.sandbox.url_for("humblytics"),
                start_date=start_date,
                timezone=timezone,
                limit=limit,
                backfill_start=pendulum.parse(backfill[0]).date() if backfill else None,
                backfill_end=pendulum.parse(backfill[1]).date() if backfill else None,
            )
            if resources:
                source = source.with_resources(*resources)
            self.pipeline.run(source, loader_file_format=LOADER_FILE_FORMAT["duckdb"])
        return STOPS.take(settings.SOURCE)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql)]

    def tables(self) -> set[str]:
        return set(self.pipeline.default_schema.data_table_names())

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        """Every business column of `table`, sorted, without load bookkeeping."""
        columns = sorted(c for c in self.pipeline.default_schema.get_table_columns(table) if c not in SYSTEM_COLUMNS)
        return self.query(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(TABLES[table])}")

    def days(self, table: str) -> list[pendulum.Date]:
        """The days `table` holds; none when dlt never created it (no row ever arrived)."""
        if table not in self.tables():
            return []
        return [
            pendulum.Date(d.year, d.month, d.day)
            for (d,) in self.query(f"SELECT DISTINCT date FROM {table} ORDER BY 1")
        ]

    def cursors(self) -> dict[str, Any]:
        resources = self.pipeline.state["sources"][settings.SOURCE]["resources"]
        return {t: resources[t]["incremental"]["date"]["last_value"] for t in CURSOR_TABLES if t in resources}


def requests(sandbox: Any, endpoint: str = "") -> list[dict[str, Any]]:
    """Logged Humblytics requests whose path ends with `endpoint`, with flattened queries and the status."""
    out = []
    for entry in sandbox.request_log:
        if entry["vendor"] == "humblytics" and entry["path"].endswith(endpoint):
            out.append({**{k: v[0] for k, v in entry["query"].items()}, "status": entry["status"]})
    return out


def by_endpoint(sandbox: Any) -> Counter[str]:
    return Counter(e["path"].split("/properties/")[1].split("/", 1)[1] for e in sandbox.request_log)


@pytest.fixture(autouse=True)
def _fresh_run() -> None:
    RUN_STATS.reset()
    STOPS.reset()


@pytest.fixture
def loader(sandbox: Any, tmp_path: Path) -> Loader:
    return Loader(sandbox, tmp_path)


def assert_unique_keys(loader: Loader, table: str) -> None:
    key = ", ".join(TABLES[table])
    dupes = loader.query(f"SELECT {key} FROM {table} GROUP BY ALL HAVING COUNT(*) > 1 LIMIT 5")
    assert dupes == [], f"{table} has duplicate keys: {dupes}"


def detail_pairs(loader: Loader, breakdown: str) -> set[tuple[str, str]]:
    """(date, page) of every page with activity in a breakdown table: the details the run must fetch."""
    return {(d.isoformat(), p) for d, p in loader.query(f"SELECT DISTINCT date, page FROM {breakdown}")}


# --- one night ---------------------------------------------------------------------------------------


def test_nightly_loads_six_tables_with_requests_proportional_to_days(sandbox: Any, loader: Loader) -> None:
    assert loader.run() == []
    assert loader.tables() == set(TABLES)
    for table in TABLES:
        assert loader.days(table) == DAYS, table
        assert_unique_keys(loader, table)
    assert loader.cursors() == dict.fromkeys(CURSOR_TABLES, DAYS[-1])
    # One trends request for the whole window; one breakdown per day and endpoint; details per active page.
    (trend,) = requests(sandbox, "traffic/trends")
    assert trend == {"start": "2026-11-10", "end": "2026-11-20", "timezone": "UTC", "granularity": "day", "status": 200}
    clicks = detail_pairs(loader, settings.CLICKS_BREAKDOWN_TABLE)
    forms = detail_pairs(loader, settings.FORMS_BREAKDOWN_TABLE)
    assert {(r["start"], r["page"]) for r in requests(sandbox, "clicks/details")} == clicks
    assert {(r["start"], r["page"]) for r in requests(sandbox, "forms/details")} == forms
    assert by_endpoint(sandbox) == {
        "traffic/trends": 1,
        "traffic/breakdown": 10,
        "clicks/breakdown": 10,
        "forms/breakdown": 10,
        "clicks/details": len(clicks),
        "forms/details": len(forms),
    }
    assert (len(clicks), len(forms)) == (60, 35)  # the sandbox world: 6 click pages a day, 3.5 form pages
    assert RUN_STATS.snapshot()["requests"]["humblytics"] == 126 == len(sandbox.request_log)
    assert {r["status"] for r in requests(sandbox)} == {200}


def test_columns_and_types(loader: Loader) -> None:
    loader.run()
    types = {
        (table, column): data_type
        for table, column, data_type in loader.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'marketing'"
        )
    }
    trends = settings.TRENDS_TABLE
    assert types[(trends, "date")] == "DATE" and types[(trends, "bucket")] == "TIMESTAMP WITH TIME ZONE"
    assert types[(trends, "pageviews")] == types[(trends, "unique_visitors")] == "BIGINT"
    traffic = settings.TRAFFIC_BREAKDOWN_TABLE
    assert types[(traffic, "share")] == "DOUBLE" and types[(traffic, "may_be_truncated")] == "BOOLEAN"
    assert types[(settings.CLICKS_DETAILS_TABLE, "share")] == "DOUBLE"
    assert types[(settings.FORMS_BREAKDOWN_TABLE, "page_unique_submissions")] == "BIGINT"
    utm = loader.query(
        f"SELECT value, utm_source, utm_medium, utm_campaign FROM {traffic} WHERE dimension = 'utm' LIMIT 50"
    )
    assert utm and all(value == f"{s} / {m} / {c}" for value, s, m, c in utm)
    assert loader.query(f"SELECT COUNT(*) FROM {traffic} WHERE dimension <> 'utm' AND utm_source IS NOT NULL") == [(0,)]
    assert loader.query(f"SELECT DISTINCT _loaded_at FROM {trends}") == [(NIGHT,)]


def test_details_agree_with_the_breakdown_pages(loader: Loader) -> None:
    """Each page's details sum to the page total of its breakdown row (limit 50 cuts nothing here)."""
    loader.run()
    for kind, count in (("clicks", "clicks"), ("forms", "submissions")):
        mismatched = loader.query(
            f"""SELECT b.date, b.page, b.total, d.total FROM
                  (SELECT DISTINCT date, page, page_{count} AS total FROM humblytics_{kind}_breakdown) b
                  FULL JOIN (SELECT date, page, SUM({count}) AS total FROM humblytics_{kind}_details GROUP BY 1, 2) d
                  USING (date, page)
                WHERE b.total IS DISTINCT FROM d.total"""
        )
        assert mismatched == [], kind
    assert loader.query(f"SELECT COUNT(*) FROM {settings.FORMS_DETAILS_TABLE} WHERE page = '/contact us/'")[0][0] > 0


def test_nothing_to_do_when_start_is_today(sandbox: Any, loader: Loader) -> None:
    assert loader.run(start_date="2026-11-20") == []
    assert requests(sandbox) == []


def test_timezone_decides_which_day_is_complete(sandbox: Any, loader: Loader) -> None:
    """At 02:00 UTC on the 20th it is still the 19th in Los Angeles: the nightly stops at the 18th."""
    loader.run(timezone="America/Los_Angeles", resources=[settings.TRENDS_TABLE])
    assert loader.days(settings.TRENDS_TABLE) == DAYS[:-1]
    assert requests(sandbox, "traffic/trends")[0]["timezone"] == "America/Los_Angeles"


# --- timezones and DST -------------------------------------------------------------------------------


def test_dst_day_in_new_york_is_a_25_hour_local_day(sandbox: Any, loader: Loader) -> None:
    """New York falls back on 2026-11-01: that day's bucket starts at 04:00Z, the next at 05:00Z, and its
    pageviews are the sum of its 25 hourly buckets."""
    loader.run(start_date="2026-10-30", timezone=NY, at=NIGHT.add(hours=6))
    trends = {d: (b, pv) for d, b, pv in loader.query("SELECT date, bucket, pageviews FROM humblytics_traffic_trends")}
    assert [trends[pendulum.date(2026, m, d)][0].isoformat() for m, d in ((10, 31), (11, 1), (11, 2))] == [
        "2026-10-31T04:00:00+00:00",
        "2026-11-01T04:00:00+00:00",
        "2026-11-02T05:00:00+00:00",
    ]
    hourly = httpx.get(
        sandbox.url_for("humblytics") + f"/properties/{sandbox.config.humblytics_property}/traffic/trends",
        params={"start": "2026-11-01", "end": "2026-11-02", "granularity": "hour", "timezone": NY},
        headers={"Authorization": f"Bearer {sandbox.config.humblytics_key}"},
        timeout=10,
    ).json()["data"][:-1]  # the trailing bucket at 11-02 00:00 (exclusive reading)
    assert len(hourly) == 25
    assert trends[pendulum.date(2026, 11, 1)][1] == sum(b["pageviews"] for b in hourly) > 0
    # every breakdown row of that day is a New York day too: the request said so
    assert {r["timezone"] for r in requests(sandbox)} == {NY}


# --- the `end` ambiguity -----------------------------------------------------------------------------


# Two sandboxes are compared row for row: with the clock moving a minute per request they would stand at
# different instants (the inclusive reading makes a request more, and requests go out side by side), and
# yesterday's late events would differ between them.
@pytest.mark.sandbox_config(clock_step_ms=0)
def test_both_readings_of_end_load_the_same_rows(
    sandbox: Any, sandbox_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exclusive = Loader(sandbox, tmp_path, name="exclusive")
    with caplog.at_level(logging.WARNING, logger="sources.humblytics"):
        exclusive.run(timezone=NY, at=NIGHT.add(hours=6))
    assert [r.message for r in caplog.records if "outside the requested days" in r.message] == []
    caplog.clear()

    other = sandbox_factory(humblytics_end_inclusive=True, clock_step_ms=0, **NO_RATE_LIMIT)
    inclusive = Loader(other, tmp_path, name="inclusive")
    with caplog.at_level(logging.WARNING, logger="sources.humblytics"):
        inclusive.run(timezone=NY, at=NIGHT.add(hours=6))

    for table in TABLES:
        assert inclusive.rows(table) == exclusive.rows(table), table
    warnings = [r.message for r in caplog.records if "outside the requested days" in r.message]
    assert len(warnings) == 1 and "the API reads `end` as inclusive" in warnings[0]
    # learned from the first answer: at most one request more than under the sample's reading
    assert len(other.request_log) - len(sandbox.request_log) in (0, 1)
    # once learned, a day is asked as start=end=that day (at most the probe asked for the day after too)
    spans = [(r["start"], r["end"]) for r in requests(other, "traffic/breakdown")]
    assert sum(1 for start, end in spans if start != end) <= 1
    assert {start for start, end in spans if start == end} == {d.isoformat() for d in DAYS}


# --- zero and empty days -----------------------------------------------------------------------------


@pytest.mark.sandbox_config(history_days=3)
def test_zero_buckets_are_kept(sandbox: Any, loader: Loader) -> None:
    """The world starts on 11-17: the days before are rows of zeros in trends, and no rows in breakdowns."""
    assert loader.run(resources=[settings.TRENDS_TABLE, settings.FORMS_BREAKDOWN_TABLE]) == []
    zeros = loader.query("SELECT date FROM humblytics_traffic_trends WHERE pageviews = 0 AND unique_visitors = 0")
    assert [d for (d,) in zeros] == DAYS[:7]
    assert loader.days(settings.TRENDS_TABLE) == DAYS
    assert loader.days(settings.FORMS_BREAKDOWN_TABLE) == DAYS[7:]


@pytest.mark.sandbox_config(sessions_per_day=1)
def test_days_without_clicks_or_forms_still_move_the_cursors(sandbox: Any, loader: Loader) -> None:
    """A site with about one session a day: forms only on 11-11, clicks last on 11-18. The cursors still
    reach 11-19, so the next nightly reads only its lookback, not every day since the last form."""
    assert loader.run() == []
    assert loader.days(settings.FORMS_BREAKDOWN_TABLE) == [pendulum.date(2026, 11, 11)]
    assert loader.days(settings.CLICKS_BREAKDOWN_TABLE)[-1] == pendulum.date(2026, 11, 18)
    assert loader.cursors() == dict.fromkeys(CURSOR_TABLES, DAYS[-1])
    sandbox.reset_stats()
    sandbox.set_today(pendulum.date(2026, 11, 21))
    loader.run(at=NIGHT.add(days=1))
    lookback = {f"2026-11-{d}" for d in range(17, 21)}
    for endpoint in ("traffic/breakdown", "clicks/breakdown", "forms/breakdown"):
        assert {r["start"] for r in requests(sandbox, endpoint)} == lookback, endpoint


# --- limits ------------------------------------------------------------------------------------------


def test_planned_windows_one_trends_request_each(sandbox: Any, loader: Loader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_BUCKETS", 5)  # 4 days + the one extra bucket
    loader.run(resources=[settings.TRENDS_TABLE])
    spans = [(r["start"], r["end"]) for r in requests(sandbox, "traffic/trends")]
    assert spans == [("2026-11-10", "2026-11-14"), ("2026-11-14", "2026-11-18"), ("2026-11-18", "2026-11-20")]
    assert loader.days(settings.TRENDS_TABLE) == DAYS


def test_range_too_large_splits_the_window(sandbox_factory: Any, tmp_path: Path) -> None:
    # 10 days = 11 buckets: refused; 5 days = 6: fine
    sandbox = sandbox_factory(humblytics_bucket_limit=6, **NO_RATE_LIMIT)
    loader = Loader(sandbox, tmp_path)
    assert loader.run(resources=[settings.TRENDS_TABLE]) == []
    assert [(r["start"], r["end"], r["status"]) for r in requests(sandbox, "traffic/trends")] == [
        ("2026-11-10", "2026-11-20", 400),
        ("2026-11-10", "2026-11-15", 200),
        ("2026-11-15", "2026-11-20", 200),
    ]
    assert RUN_STATS.snapshot()["splits"]["humblytics"] == 1
    assert loader.days(settings.TRENDS_TABLE) == DAYS


def test_small_limit_flags_lists_that_may_be_cut(
    sandbox: Any, loader: Loader, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sources.humblytics"):
        loader.run(limit=2, resources=[settings.TRAFFIC_BREAKDOWN_TABLE])
    flagged = loader.query(
        "SELECT dimension, COUNT(*), BOOL_AND(may_be_truncated) FROM humblytics_traffic_breakdown "
        "WHERE date = '2026-11-15' GROUP BY 1 ORDER BY 1"
    )
    dimensions = sorted(("utm", "countries", "devices", "landing_pages", "referrers"))
    assert [(d, n) for d, n, _ in flagged] == [(d, 2) for d in dimensions]
    assert all(cut for *_, cut in flagged)
    assert {r["limit"] for r in requests(sandbox)} == {"2"}
    cut = [r.message for r in caplog.records if "may_be_truncated" in r.message]
    assert len(cut) == 1 and "on 10 day(s)" in cut[0]
    # with the full limit nothing is cut in this world
    full = Loader(sandbox, tmp_path, name="full")
    full.run(resources=[settings.TRAFFIC_BREAKDOWN_TABLE])
    assert full.query("SELECT COUNT(*) FROM humblytics_traffic_breakdown WHERE may_be_truncated") == [(0,)]


# --- transient and terminal answers ------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [True, False], ids=["with-retry-after", "without-retry-after"])
def test_429_rate_limited_is_retried(
    sandbox: Any, loader: Loader, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, retry_after: bool
) -> None:
    monkeypatch.setenv("MARKETING_ELT__HTTP__BACKOFF_BASE_S", "0.05")
    sandbox.set_faults("humblytics:status=429,count=2" + (",retry_after=1" if retry_after else ""))
    with caplog.at_level(logging.WARNING, logger="sources.common.client"):
        assert loader.run(resources=[settings.TRENDS_TABLE, settings.TRAFFIC_BREAKDOWN_TABLE]) == []
    assert loader.days(settings.TRENDS_TABLE) == DAYS and loader.days(settings.TRAFFIC_BREAKDOWN_TABLE) == DAYS
    assert sandbox.stats()["by_vendor_status"]["humblytics"]["429"] == 2
    assert RUN_STATS.snapshot()["retries"]["humblytics"] == 2
    retries = [r.message for r in caplog.records if "HTTP 429" in r.message]
    assert len(retries) == 2
    assert all(("Retry-After 1 s" in m) is retry_after for m in retries)


@pytest.mark.parametrize(
    ("key", "prop", "status", "needle"),
    [
        ("sandbox-humblytics-key-no-metrics", None, 403, "without the `metrics` permission"),
        (None, "someone-elses-property", 403, "SOURCES__HUMBLYTICS__PROPERTY_ID"),
        ("not-a-key", None, 401, "rejected the API key"),
    ],
    ids=["403-no-metrics", "403-other-property", "401"],
)
def test_auth_refusal_stops_the_source_after_one_request(
    sandbox: Any, loader: Loader, key: str | None, prop: str | None, status: int, needle: str
) -> None:
    stops = loader.run(key=key, property_id=prop)
    assert len(stops) == 1 and needle in str(stops[0]) and stops[0].status == status
    assert [r["status"] for r in requests(sandbox)] == [status]  # one refusal answers for every endpoint
    assert key is None or key not in str(stops[0])
    assert loader.tables() == set()


def test_details_failing_mid_run_keep_whole_days_and_the_next_night_heals(
    sandbox: Any, loader: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARKETING_ELT__HTTP__MAX_ATTEMPTS", "1")
    path = f"/api/external/v1/properties/{sandbox.config.humblytics_property}/clicks/details"
    sandbox.set_faults(f"humblytics:status=500,nth=20,path={path}")
    stops = loader.run()
    assert len(stops) == 1 and isinstance(stops[0], RetriesExhaustedError) and stops[0].endpoint == "clicks/details"
    (failed,) = [pendulum.parse(r["start"]).date() for r in requests(sandbox, "clicks/details") if r["status"] == 500]
    # the breakdown stopped on the failed day, its details hold every day before it, complete
    assert loader.days(settings.CLICKS_BREAKDOWN_TABLE)[-1] == failed
    assert loader.days(settings.CLICKS_DETAILS_TABLE) == [d for d in DAYS if d < failed]
    assert loader.cursors()[settings.CLICKS_BREAKDOWN_TABLE] == failed
    assert loader.days(settings.FORMS_DETAILS_TABLE) == DAYS  # the other resources were not held up

    sandbox.set_faults(None)
    assert loader.run(at=NIGHT.add(hours=1)) == []
    assert loader.days(settings.CLICKS_DETAILS_TABLE) == loader.days(settings.CLICKS_BREAKDOWN_TABLE) == DAYS
    assert_unique_keys(loader, settings.CLICKS_DETAILS_TABLE)


# --- incremental -------------------------------------------------------------------------------------


def test_second_nightly_reads_new_days_plus_lookback(sandbox: Any, loader: Loader) -> None:
    """The measured cost of a nightly: 1 trends request + 3 x 4 breakdowns (the new day and the 3-day lookback)
    + details of active pages."""
    loader.run()
    sandbox.reset_stats()
    sandbox.set_today(pendulum.date(2026, 11, 21))
    assert loader.run(at=NIGHT.add(days=1)) == []
    (trend,) = requests(sandbox, "traffic/trends")
    assert (trend["start"], trend["end"]) == ("2026-11-17", "2026-11-21")
    lookback = {f"2026-11-{d}" for d in range(17, 21)}
    for endpoint in ("traffic/breakdown", "clicks/breakdown", "forms/breakdown"):
        assert sorted(r["start"] for r in requests(sandbox, endpoint)) == sorted(lookback), endpoint
    details = {e: len(requests(sandbox, e)) for e in ("clicks/details", "forms/details")}
    clicks = {p for p in detail_pairs(loader, settings.CLICKS_BREAKDOWN_TABLE) if p[0] in lookback}
    forms = {p for p in detail_pairs(loader, settings.FORMS_BREAKDOWN_TABLE) if p[0] in lookback}
    assert details == {"clicks/details": len(clicks), "forms/details": len(forms)}
    assert len(sandbox.request_log) == 1 + 12 + len(clicks) + len(forms) == 51
    assert loader.cursors() == dict.fromkeys(CURSOR_TABLES, pendulum.date(2026, 11, 20))
    for table in TABLES:
        assert loader.days(table) == [*DAYS, pendulum.date(2026, 11, 20)], table
        assert_unique_keys(loader, table)


def test_same_night_rerun_changes_nothing(loader: Loader) -> None:
    loader.run()
    before = {t: loader.rows(t) for t in TABLES}
    loader.run(at=NIGHT.add(hours=3))
    assert {t: loader.rows(t) for t in TABLES} == before


def test_backfill_reloads_the_range_and_leaves_the_cursors(sandbox: Any, loader: Loader) -> None:
    loader.run()
    cursors = loader.cursors()
    sandbox.reset_stats()
    assert loader.run(backfill=("2026-11-01", "2026-11-05")) == []
    assert [(r["start"], r["end"]) for r in requests(sandbox, "traffic/trends")] == [("2026-11-01", "2026-11-06")]
    assert {r["start"] for r in requests(sandbox, "clicks/breakdown")} == {f"2026-11-0{d}" for d in range(1, 6)}
    assert loader.cursors() == cursors
    backfilled = [pendulum.date(2026, 11, d) for d in range(1, 6)]
    for table in TABLES:
        assert loader.days(table) == backfilled + DAYS, table
    after_first = {t: loader.rows(t) for t in TABLES}
    loader.run(backfill=("2026-11-01", "2026-11-05"), at=NIGHT.add(hours=1))
    assert {t: loader.rows(t) for t in TABLES} == after_first
    assert loader.cursors() == cursors


# --- the CLI, end to end -----------------------------------------------------------------------------


@pytest.fixture
def humblytics_env(warehouse: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SOURCES__HUMBLYTICS__START_DATE", START)
    return warehouse


def test_cli_nightly_then_backfill(sandbox: Any, humblytics_env: Any, cli: Any) -> None:
    result = cli("run", "--sources", "humblytics")
    assert result.code == 0, result.err
    assert "humblytics: ok" in result.out
    assert humblytics_env.count(settings.TRENDS_TABLE) == len(DAYS)
    result = cli("backfill", "--start", "2026-11-01", "--end", "2026-11-03", "--sources", "humblytics")
    assert result.code == 0, result.err
    assert humblytics_env.count(settings.TRENDS_TABLE) == len(DAYS) + 3


def test_cli_limit_over_50_is_refused_before_any_request(
    sandbox: Any, humblytics_env: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__HUMBLYTICS__LIMIT", "51")
    result = cli("run", "--sources", "humblytics")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "SOURCES__HUMBLYTICS__LIMIT" in lines[0] and "51" in lines[0], result.err
    assert sandbox.request_log == []
    assert not humblytics_env.data_dir.exists()


@pytest.mark.parametrize(
    ("env", "value", "needle"),
    [
        ("SOURCES__HUMBLYTICS__API_KEY", "sandbox-humblytics-key-no-metrics", "`metrics` permission"),
        ("SOURCES__HUMBLYTICS__PROPERTY_ID", "someone-elses-property", "SOURCES__HUMBLYTICS__PROPERTY_ID"),
        ("SOURCES__HUMBLYTICS__API_KEY", "wrong-key-123", "SOURCES__HUMBLYTICS__API_KEY"),
    ],
    ids=["403-no-metrics", "403-other-property", "401"],
)
def test_cli_auth_refusal_is_exit_1_with_one_line(
    sandbox: Any, humblytics_env: Any, cli: Any, monkeypatch: pytest.MonkeyPatch, env: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(env, value)
    result = cli("run", "--sources", "humblytics")
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], result.err
    assert "Traceback" not in result.err and "wrong-key-123" not in result.err + result.out
    assert len(sandbox.request_log) == 1


def test_demo_shows_the_humblytics_tables(
    warehouse: Any, cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    workdir = tmp_path / "project"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals"]')
    result = cli("demo")
    assert result.code == 0, result.err
    assert "humblytics: ok" in result.out
    landed = result.out.split("What landed in", 1)[1]
    for table in TABLES:
        assert f"\n{table} " in landed, table
