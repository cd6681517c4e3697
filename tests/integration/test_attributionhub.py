"""`attributionhub` over real HTTP against the sandbox, into DuckDB.

The sandbox's simulated today is 2026-11-20 and "now" is pinned to that night, so yesterday is 2026-11-19.
Expected conversions come from the sandbox's own world (`sandbox.sessions_world`), the same one its
simulator answers from, never from the source under test.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import dlt
import httpx
import pendulum
import pytest

from pipelines.warehouse import LOADER_FILE_FORMAT, pipeline_name
from sandbox.sessions_world import conversions_visible, sessions_for_days
from sources.attributionhub import attributionhub, settings
from sources.attributionhub.conversions import incomplete_windows
from sources.common import clock
from sources.common.errors import AuthError, QuotaExhaustedError, VendorError
from sources.common.partial import STOPS
from sources.common.stats import RUN_STATS
from tests.support.pipelines import local_pipeline

from .conftest import NIGHT

START = "2026-11-10"
CONVERSIONS = settings.CONVERSIONS_TABLE
INSIGHTS = settings.INSIGHTS_TABLE
CHANNELS = settings.CHANNELS_TABLE
IDENTITY = "email, timestamp, conversion_page, previous_page, conversion_meta__type, conversion_meta__id"
BOOKKEEPING = {"_dlt_load_id", "_dlt_id", "_dlt_root_id", "_dlt_parent_id", "_loaded_at"}


def day(text: str) -> pendulum.Date:
    return pendulum.Date.fromisoformat(text)


class Loader:
    """One dlt pipeline (state + DuckDB file) that runs `attributionhub` against a sandbox."""

    def __init__(self, sandbox: Any, root: Path, name: str = "ah") -> None:
        self.sandbox = sandbox
        self.pipeline = local_pipeline(root, name)

    def run(
        self,
        *,
        at: pendulum.DateTime = NIGHT,
        start_date: str = START,
        backfill: tuple[str, str] | None = None,
        only: str | None = None,
        api_key: str | None = None,
        **config: Any,
    ) -> list[VendorError]:
        """Run once; returns the terminal vendor answers the source stopped on (what the runner reports)."""
        STOPS.reset()
        with clock.pinned(at):
            source = attributionhub(
                api_key=api_key or self.sandbox.config.attributionhub_key,
                base_url=self.sandbox.url_for("attributionhub"),
                start_date=start_date,
                backfill_start=day(backfill[0]) if backfill else None,
                backfill_end=day(backfill[1]) if backfill else None,
                **config,
            )
            if only:
                source = source.with_resources(only)
            self.pipeline.run(source, loader_file_format=LOADER_FILE_FORMAT["duckdb"])
        return STOPS.take(settings.SOURCE)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql)]

    def conversions(self, where: str = "TRUE") -> Counter[tuple[Any, ...]]:
        return Counter(self.query(f"SELECT {IDENTITY} FROM {CONVERSIONS} WHERE {where}"))

    def rows(self, table: str, order: str) -> list[tuple[Any, ...]]:
        """Every business column of `table`, sorted, without load bookkeeping."""
        columns = [c for c in self.pipeline.default_schema.get_table_columns(table) if c not in BOOKKEEPING]
        return self.query(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")

    def cursor(self, table: str) -> Any:
        incremental = self.pipeline.state["sources"][settings.SOURCE]["resources"][table]["incremental"]
        return next(iter(incremental.values()))["last_value"]


def truth(sandbox: Any, first: str, last: str, **session_filters: str) -> Counter[tuple[Any, ...]]:
    """Conversions the sandbox holds for sessions started on days first..last, visible at its simulated now
    (the hard sandbox's conversions arrive at an instant), with its field variants (a null previous_page)."""
    config = dataclasses.replace(sandbox.config, now_ms=int(sandbox.now().timestamp() * 1000))
    visible = conversions_visible(config)
    out: Counter[tuple[Any, ...]] = Counter()
    for s in sessions_for_days(config, day(first).toordinal(), day(last).toordinal()):
        if any(getattr(s, k) != v for k, v in session_filters.items()):
            continue
        stamp = pendulum.from_timestamp(s.start, tz="UTC")
        nulled = config.field_variants and s.key[1] % 7 == 2  # sandbox/attributionhub.py, _record
        for c in visible(s):
            email = s.email if c.email_captured else None
            out[(email, stamp, c.page, None if nulled else c.previous_page, c.meta_type, c.meta_id)] += 1
    return out


def requests_to(sandbox: Any, path: str) -> list[dict[str, Any]]:
    return [e for e in sandbox.request_log if e["vendor"] == "attributionhub" and e["path"] == path]


def assert_unique_keys(loader: Loader) -> None:
    keys = {
        CONVERSIONS: "conversion_key",
        INSIGHTS: "segment, window_start, window_end",
        CHANNELS: "segment, window_start, window_end, channel",
    }
    tables = set(loader.pipeline.default_schema.data_table_names())
    for table, key in keys.items():
        if table in tables:
            assert loader.query(f"SELECT {key} FROM {table} GROUP BY ALL HAVING COUNT(*) > 1") == [], table


@pytest.fixture(autouse=True)
def _clean() -> None:
    STOPS.reset()
    incomplete_windows()


@pytest.fixture
def loader(sandbox: Any, tmp_path: Path) -> Loader:
    return Loader(sandbox, tmp_path)


def _ah_env(monkeypatch: pytest.MonkeyPatch, start: str = START) -> None:
    monkeypatch.setenv("SOURCES__ATTRIBUTIONHUB__START_DATE", start)
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals"]')


# --- one night -------------------------------------------------------------------------------------------


def test_nightly_loads_every_conversion_and_a_snapshot_per_day(sandbox: Any, loader: Loader) -> None:
    assert loader.run() == []
    assert loader.conversions() == truth(sandbox, START, "2026-11-19")
    # No email is a conversion too (the document: email only "if captured during the conversion").
    assert loader.query(f"SELECT COUNT(*) FROM {CONVERSIONS} WHERE email IS NULL")[0][0] > 0
    types = dict(
        loader.query(
            f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{CONVERSIONS}'"
        )
    )
    assert types["timestamp"] == "TIMESTAMP WITH TIME ZONE" and types["date"] == "DATE"
    assert types["conversion_meta__type"] == types["conversion_meta__id"] == types["email"] == "VARCHAR"
    days = [d.isoformat() for (d,) in loader.query(f"SELECT window_end FROM {INSIGHTS} ORDER BY 1")]
    assert days == [f"2026-11-{n}" for n in range(10, 20)]  # no month ends in 11-10..11-19
    assert loader.query(f"SELECT DISTINCT segment, period FROM {INSIGHTS}") == [("all", "day")]
    assert loader.query(f"SELECT COUNT(DISTINCT window_end) FROM {CHANNELS}") == [(10,)]
    assert loader.cursor(CONVERSIONS) == loader.cursor(INSIGHTS) == day("2026-11-19")
    assert incomplete_windows() == []  # every direct window added up to its total_records
    # Request economy: one insights request per day, conversions by 7-day windows of 50-record pages.
    assert len(requests_to(sandbox, settings.INSIGHTS_PATH)) == 10
    # settled days (before 11-16, the lookback's first day) share a window; the lookback's days go one by one
    windows = [("2026-11-10", "2026-11-15"), *((f"2026-11-{n}", f"2026-11-{n}") for n in range(16, 20))]
    per_window = [sum(truth(sandbox, a, b).values()) for a, b in windows]
    assert len(requests_to(sandbox, settings.CONVERSIONS_PATH)) == sum(n // 50 + 1 for n in per_window)
    assert_unique_keys(loader)


def test_nothing_is_requested_when_no_day_is_complete(sandbox: Any, loader: Loader) -> None:
    assert loader.run(start_date="2026-11-20") == []
    assert sandbox.request_log == []


# --- paging ----------------------------------------------------------------------------------------------


def test_direct_paging_reads_every_page_of_a_window(
    sandbox: Any, loader: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One 31-day window of about 400 records: offsets 0, 50, ... until has_more is false."""
    monkeypatch.setattr(settings, "CONVERSION_WINDOW_DAYS", 31)
    assert loader.run(backfill=("2026-10-01", "2026-10-31"), only=CONVERSIONS) == []
    expected = truth(sandbox, "2026-10-01", "2026-10-31")
    assert loader.conversions() == expected
    assert len(requests_to(sandbox, settings.CONVERSIONS_PATH)) == sum(expected.values()) // 50 + 1 > 5


@pytest.mark.sandbox_config(attributionhub_session_batches_per_request=1)
def test_session_filtered_paging_goes_on_past_empty_pages(
    sandbox: Any, loader: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With session filters, `records_processed` is the next offset and a page may be empty with has_more true."""
    monkeypatch.setattr(settings, "CONVERSION_WINDOW_DAYS", 7)
    filters = {"source": "google.com", "meta_id": "trial-started"}
    window = {"start_date": "2026-11-06T00:00:00Z", "end_date": "2026-11-12T23:59:59Z"}
    # The scenario, read straight from the sandbox: two empty pages with has_more, then the record.
    walk, offset = [], 0
    headers = {"Authentication": sandbox.config.attributionhub_key}
    while True:
        body = {**filters, **window, "offset": offset}
        page = httpx.post(sandbox.base_url + settings.CONVERSIONS_PATH, json=body, headers=headers).json()
        walk.append((len(page["records"]), page["pagination"]["has_more"]))
        if not page["pagination"]["has_more"]:
            break
        offset = page["pagination"]["records_processed"]
    assert walk == [(0, True), (0, True), (1, False)]
    sandbox.reset_stats()

    assert loader.run(start_date="2026-11-06", only=CONVERSIONS, conversion_filters=filters) == []
    expected = truth(sandbox, "2026-11-06", "2026-11-19", source="google.com")
    expected = Counter({k: n for k, n in expected.items() if k[5] == "trial-started"})
    assert loader.conversions() == expected and sum(expected.values()) >= 2
    assert len(requests_to(sandbox, settings.CONVERSIONS_PATH)) >= 4  # 3 for the first window alone


def test_session_filtered_pages_can_hold_more_than_50(sandbox: Any, loader: Loader) -> None:
    assert loader.run(start_date="2026-10-21", only=CONVERSIONS, conversion_filters={"medium": "cpc"}) == []
    assert loader.conversions() == truth(sandbox, "2026-10-21", "2026-11-19", medium="cpc")


def test_no_result_bodies_are_empty_results(sandbox: Any, loader: Loader) -> None:
    nobody = {"name": "nobody", "source": "Google.com"}  # filters are case-sensitive (insights document)
    errors = loader.run(conversion_filters={"source": "Google.com"}, segments=[{"name": "all"}, nobody])
    assert errors == []
    assert CONVERSIONS not in loader.pipeline.default_schema.data_table_names()  # nothing to store
    assert loader.query(f"SELECT DISTINCT segment FROM {INSIGHTS}") == [("all",)]
    assert {e["status"] for e in sandbox.request_log} == {200}
    assert len(requests_to(sandbox, settings.INSIGHTS_PATH)) == 20  # asked, answered "No page data found"


# --- keys and late data ----------------------------------------------------------------------------------


def test_identical_records_are_distinct_rows_and_stable_across_reruns(sandbox: Any, loader: Loader) -> None:
    """2026-08-02 holds two conversions identical in every field (one session, one form, twice)."""
    loader.run(backfill=("2026-08-01", "2026-08-03"), only=CONVERSIONS)
    expected = truth(sandbox, "2026-08-01", "2026-08-03")
    assert loader.conversions() == expected and max(expected.values()) == 2
    twins = loader.query(
        f"SELECT email, ordinal FROM {CONVERSIONS} WHERE email = 'ana.tanaka950@globex.com' ORDER BY ordinal"
    )
    assert twins == [
        ("ana.tanaka950@globex.com", 0),
        ("ana.tanaka950@globex.com", 1),
    ]
    keys = loader.query(f"SELECT conversion_key, ordinal FROM {CONVERSIONS} ORDER BY 1")
    loader.run(backfill=("2026-08-01", "2026-08-03"), only=CONVERSIONS)
    loader.run(backfill=("2026-08-02", "2026-08-02"), only=CONVERSIONS)  # the group's day alone: same keys
    assert loader.query(f"SELECT conversion_key, ordinal FROM {CONVERSIONS} ORDER BY 1") == keys


def test_late_conversions_load_the_next_night_without_duplicates(
    sandbox: Any, loader: Loader, sandbox_factory: Any, tmp_path: Path
) -> None:
    loader.run(only=CONVERSIONS)
    first = loader.conversions()
    sandbox.set_today(pendulum.date(2026, 11, 21))
    loader.run(at=NIGHT.add(days=1), only=CONVERSIONS)
    second = loader.conversions("date <= DATE '2026-11-19'")
    assert sum(second.values()) > sum(first.values())  # conversions of 11-18/11-19 that appeared a day late
    assert not first - second  # nothing lost
    assert_unique_keys(loader)
    # The same as a first load on 11-21: nothing twice, nothing missing.
    fresh = Loader(sandbox_factory(today=pendulum.date(2026, 11, 21)), tmp_path, name="fresh")
    fresh.run(at=NIGHT.add(days=1), only=CONVERSIONS)
    order = "conversion_key"
    assert loader.rows(CONVERSIONS, order) == fresh.rows(CONVERSIONS, order)


# Conversions arrive while a run pages (the sandbox's hardening switch): simulated now starts at noon and moves
# an hour per request, and a busy day takes two pages.
ARRIVING = {"sessions_per_day": 2000, "conversions_arrive_intraday": True, "clock_start_s": 12 * 3600}


@pytest.mark.sandbox_config(**ARRIVING, clock_step_ms=3_600_000)
def test_a_count_that_moves_while_paging_is_warned_counted_and_healed(
    sandbox: Any, loader: Loader, caplog: pytest.LogCaptureFixture
) -> None:
    """A late conversion that arrives between two pages of a day shifts the offsets: the source says so, and
    a later re-read of the day within the lookback replaces what the shifted read loaded."""
    with caplog.at_level(logging.WARNING, logger="sources.attributionhub.conversions"):
        loader.run(start_date="2026-11-19", only=CONVERSIONS)
    assert len(requests_to(sandbox, settings.CONVERSIONS_PATH)) == 2
    warnings = [r.getMessage() for r in caplog.records if "total_records" in r.getMessage()]
    assert len(warnings) == 1 and "conversions 2026-11-19:" in warnings[0], warnings
    assert "moved while paging" in warnings[0]
    assert incomplete_windows() == ["2026-11-19"]
    assert RUN_STATS.incomplete["attributionhub"] == 1  # the run summary's "incomplete answers"

    # Two nights later every conversion of 11-19 has arrived (late_conversion_days=2): the nightly re-reads
    # the day (it is inside the lookback) and replaces it whole.
    sandbox.app.config = dataclasses.replace(sandbox.config, conversions_arrive_intraday=False, clock_step_ms=0)
    sandbox.set_today(pendulum.date(2026, 11, 22))
    loader.run(start_date="2026-11-19", only=CONVERSIONS, at=NIGHT.add(days=2))
    assert loader.conversions("date = DATE '2026-11-19'") == truth(sandbox, "2026-11-19", "2026-11-19")
    assert incomplete_windows() == []


# --- insights --------------------------------------------------------------------------------------------


def _raw_insights(sandbox: Any, start: str, end: str, **filters: str) -> dict[str, Any]:
    body = {"start_date": f"{start}T00:00:00Z", "end_date": f"{end}T23:59:59Z", **filters}
    headers = {"Authentication": sandbox.config.attributionhub_key}
    return httpx.post(sandbox.base_url + settings.INSIGHTS_PATH, json=body, headers=headers).json()["overall_metrics"]


def test_percent_strings_are_numbers_in_pct_columns(sandbox: Any, loader: Loader) -> None:
    loader.run(start_date="2026-11-19", segments=[{"name": "google", "source": "google.com"}])
    raw = _raw_insights(sandbox, "2026-11-19", "2026-11-19", source="google.com")
    ((rate,),) = loader.query(f"SELECT conversion_rate_pct FROM {INSIGHTS}")
    assert f"{rate:.2f}%" == raw["user_summary"]["conversion_rate"]
    stored = {
        channel: (f"{s:.2f}%", f"{c:.2f}%", f"{r:.2f}%")
        for channel, s, c, r in loader.query(
            f"SELECT channel, session_influence_pct, conversion_influence_pct, conversion_rate_pct FROM {CHANNELS}"
        )
    }
    assert stored == {
        c["channel"]: (c["session_influence"], c["conversion_influence"], c["conversion_rate"]) for c in raw["channels"]
    }
    types = dict(
        loader.query(f"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '{CHANNELS}'")
    )
    assert types["session_influence_pct"] == types["conversion_rate_pct"] == "DOUBLE"


def test_day_and_month_snapshots_and_month_re_reads(sandbox: Any, loader: Loader) -> None:
    loader.run(start_date="2026-10-30", only=INSIGHTS)
    months = loader.query(f"SELECT window_start, window_end, total_users FROM {INSIGHTS} WHERE period = 'month'")
    october = _raw_insights(sandbox, "2026-10-01", "2026-10-31")
    assert months == [(day("2026-10-01"), day("2026-10-31"), october["user_summary"]["total_users"])]
    loads = {}
    for night in range(1, 7):  # nights of 12-01 .. 12-06; November ends on 11-30
        today = pendulum.date(2026, 12, night)
        sandbox.set_today(today)
        loader.run(start_date="2026-10-30", only=INSIGHTS, at=NIGHT.add(days=10 + night))
        (loaded_at,) = loader.query(
            f"SELECT _loaded_at FROM {INSIGHTS} WHERE period = 'month' AND window_end = DATE '2026-11-30'"
        )[0]
        loads[night] = loaded_at
    # read once complete, then again on each of the lookback's 3 nights after, then never again
    assert len({loads[n] for n in range(1, 5)}) == 4 and loads[4] == loads[5] == loads[6]
    days = loader.query(f"SELECT COUNT(*) FROM {INSIGHTS} WHERE period = 'day'")[0][0]
    assert days == 37  # 10-30 .. 12-05
    assert_unique_keys(loader)


def test_channels_are_replaced_when_a_snapshot_is_re_read(sandbox: Any, loader: Loader) -> None:
    """The segment's filters change under the same name: the re-read snapshots keep only their current channels."""
    loader.run(start_date="2026-11-18", segments=[{"name": "focus"}], only=INSIGHTS)
    before = loader.query(f"SELECT COUNT(DISTINCT channel) FROM {CHANNELS} WHERE window_end = DATE '2026-11-19'")[0][0]
    narrow = {"name": "focus", "source": "newsletter", "touch_scope": "first"}
    loader.run(start_date="2026-11-18", segments=[narrow], only=INSIGHTS, at=NIGHT.add(hours=1))
    raw = _raw_insights(sandbox, "2026-11-19", "2026-11-19", source="newsletter", touch_scope="first")
    stored = loader.query(
        f"SELECT channel, total_sessions FROM {CHANNELS} WHERE window_end = DATE '2026-11-19' ORDER BY 1"
    )
    assert stored == sorted((c["channel"], c["total_sessions"]) for c in raw["channels"])
    assert len(stored) < before  # channels of the wider cohort are gone
    parent = loader.query(f"SELECT total_users FROM {INSIGHTS} WHERE window_end = DATE '2026-11-19'")
    assert parent == [(raw["user_summary"]["total_users"],)]
    assert_unique_keys(loader)


# --- backfill --------------------------------------------------------------------------------------------


def test_backfill_loads_its_range_and_leaves_the_cursors(sandbox: Any, loader: Loader) -> None:
    loader.run()
    cursors = (loader.cursor(CONVERSIONS), loader.cursor(INSIGHTS))
    loader.run(backfill=("2026-10-29", "2026-11-02"))
    assert (loader.cursor(CONVERSIONS), loader.cursor(INSIGHTS)) == cursors
    assert loader.conversions() == truth(sandbox, "2026-10-29", "2026-11-02") + truth(sandbox, START, "2026-11-19")
    months = loader.query(f"SELECT window_start, window_end FROM {INSIGHTS} WHERE period = 'month'")
    assert months == [(day("2026-10-01"), day("2026-10-31"))]  # the month that ends inside the range
    snapshot = {t: loader.rows(t, "ALL") for t in (CONVERSIONS, INSIGHTS, CHANNELS)}
    loader.run(backfill=("2026-10-29", "2026-11-02"))  # twice: nothing changes
    assert {t: loader.rows(t, "ALL") for t in snapshot} == snapshot
    assert (loader.cursor(CONVERSIONS), loader.cursor(INSIGHTS)) == cursors


# --- quota, budget and credentials -----------------------------------------------------------------------


def assert_whole_units_up_to_the_cursor(sandbox: Any, loader: Loader, start: str) -> int:
    """The partial-load rule: rows only of whole units, and the cursor exactly at the last one loaded.
    Returns how many rows the two tables hold."""
    tables = set(loader.pipeline.default_schema.data_table_names())
    rows = 0
    if CONVERSIONS in tables:
        (last_day, count) = loader.query(f"SELECT MAX(date), COUNT(*) FROM {CONVERSIONS}")[0]
        assert loader.cursor(CONVERSIONS) == last_day
        assert loader.conversions() == truth(sandbox, start, last_day.isoformat())
        rows += count
    if INSIGHTS in tables:
        (last_end, count) = loader.query(f"SELECT MAX(window_end), COUNT(*) FROM {INSIGHTS}")[0]
        assert loader.cursor(INSIGHTS) == last_end
        days = loader.query(f"SELECT COUNT(*) FROM {INSIGHTS} WHERE period = 'day'")[0][0]
        assert days == last_end.toordinal() - day(start).toordinal() + 1
        rows += count
    return rows


@pytest.mark.sandbox_config(attributionhub_monthly_quota=15)
def test_the_monthly_quota_stops_the_source_and_keeps_whole_windows(sandbox: Any, loader: Loader) -> None:
    errors = loader.run(start_date="2026-10-21")
    # Requests already in flight when the quota ran out each meet the 429 (both resources may): every error
    # is the quota, quoting the vendor's numbers.
    assert errors and all(isinstance(e, QuotaExhaustedError) and "limit 15, used 15" in str(e) for e in errors)
    statuses = Counter(e["status"] for e in sandbox.request_log)
    assert statuses[200] == 15 and 1 <= statuses[429] <= 2 * settings.WORKERS  # no retries of a spent quota
    assert assert_whole_units_up_to_the_cursor(sandbox, loader, "2026-10-21") > 0  # what came before stays

    # the quota raised (or a new month): the next run continues from the cursors, nothing twice
    sandbox.app.config = dataclasses.replace(sandbox.config, attributionhub_monthly_quota=None)
    assert loader.run(start_date="2026-10-21", at=NIGHT.add(minutes=5)) == []
    assert loader.conversions() == truth(sandbox, "2026-10-21", "2026-11-19")
    assert loader.query(f"SELECT COUNT(*) FROM {INSIGHTS}") == [(31,)]  # 30 days and October
    assert_unique_keys(loader)


def test_the_request_budget_stops_before_the_vendor_quota(sandbox: Any, loader: Loader) -> None:
    errors = loader.run(start_date="2026-10-21", max_requests_per_run=6)
    assert errors and {str(e) for e in errors} == {str(errors[0])}  # each resource stopped on the same answer
    assert "budget of 6 requests" in str(errors[0])
    assert len(sandbox.request_log) == 6
    assert_whole_units_up_to_the_cursor(sandbox, loader, "2026-10-21")


def test_401_stops_at_once_without_the_key(sandbox: Any, loader: Loader) -> None:
    errors = loader.run(api_key="wrong-key-123")
    assert errors and all(isinstance(e, AuthError) for e in errors)
    message = str(errors[0])
    assert "SOURCES__ATTRIBUTIONHUB__API_KEY" in message and "\n" not in message
    assert "wrong-key-123" not in message
    assert {e["status"] for e in sandbox.request_log} == {401}
    assert len(sandbox.request_log) <= 2 * settings.WORKERS  # the client sends nothing after a 401


# --- the CLI ---------------------------------------------------------------------------------------------


def cursor_of(warehouse: Any, table: str) -> Any:
    pipeline = dlt.attach(pipeline_name(settings.SOURCE), pipelines_dir=str(warehouse.data_dir / "pipelines"))
    resources = pipeline.state.get("sources", {}).get(settings.SOURCE, {}).get("resources", {})
    incremental = resources.get(table, {}).get("incremental", {})
    return next(iter(incremental.values()), {}).get("last_value")


@pytest.mark.sandbox_config(attributionhub_monthly_quota=12)
def test_cli_quota_mid_run_exit_1_other_sources_load(
    sandbox: Any, warehouse: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ah_env(monkeypatch, "2026-10-21")
    result = cli("run", "--sources", "hubspot_analytics,attributionhub")

    assert result.code == 1, result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: attributionhub:"), result.err
    assert "limit 12, used 12" in errors[0]
    assert "hubspot_analytics: ok" in result.out
    assert warehouse.count("hubspot_analytics_totals") == 10
    tables = {t for (t,) in warehouse.query("SELECT table_name FROM information_schema.tables")}
    loaded = 0
    for table, column in ((CONVERSIONS, "date"), (INSIGHTS, "window_end")):
        if table in tables:  # a resource that completed no whole unit before the quota created no table
            (last, count) = warehouse.query(f"SELECT MAX({column}), COUNT(*) FROM marketing.{table}")[0]
            assert cursor_of(warehouse, table) == last, table
            loaded += count
    assert loaded > 0  # what came before the quota stays


def test_cli_401_is_one_line_naming_the_key(
    sandbox: Any, warehouse: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ah_env(monkeypatch)
    monkeypatch.setenv("SOURCES__ATTRIBUTIONHUB__API_KEY", "ah-secret-0000")
    result = cli("run", "--sources", "attributionhub")
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "SOURCES__ATTRIBUTIONHUB__API_KEY" in errors[0], result.err
    assert "ah-secret-0000" not in result.err + result.out


@pytest.mark.parametrize(
    ("env", "value", "needle"),
    [
        ("SOURCES__ATTRIBUTIONHUB__BASE_URL", "", "SOURCES__ATTRIBUTIONHUB__BASE_URL"),
        ("SOURCES__ATTRIBUTIONHUB__SEGMENTS", '[{"name": "x", "sorce": "a"}]', "Unknown filter 'sorce'"),
        ("SOURCES__ATTRIBUTIONHUB__SEGMENTS", "all", "SOURCES__ATTRIBUTIONHUB__SEGMENTS"),
        ("SOURCES__ATTRIBUTIONHUB__LOOKBACK_DAYS", "-1", "lookback_days"),
    ],
)
def test_cli_bad_config_is_one_line_before_any_request(
    sandbox: Any, warehouse: Any, cli: Any, monkeypatch: pytest.MonkeyPatch, env: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(env, value)
    result = cli("run", "--sources", "attributionhub")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.err
    assert sandbox.request_log == []


def test_demo_shows_the_attributionhub_tables(
    warehouse: Any, cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    workdir = tmp_path / "project"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals"]')
    result = cli("demo")
    assert result.code == 0, result.err
    assert "attributionhub: ok" in result.out
    landed = result.out.split("What landed in", 1)[1]
    for table in (CONVERSIONS, INSIGHTS, CHANNELS):
        assert f"\n{table} " in landed, landed
