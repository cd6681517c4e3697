"""hubspot_leads against the sandbox over HTTP into DuckDB: paging, retries, cursor, merges, secrets, format.

The expected data comes from the sandbox itself, read with a plain offset loop that shares no code with the
source, with the sandbox's clock stopped (nothing changes while it reads, so plain offsets are exact there).
The hard sandbox edits leads while a run pages: a lead edited mid-run leaves the run's frozen window and is the
next night's, so a run loads every lead that stayed in the window and nothing but leads as they were at its start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import httpx
import pendulum
import pytest
from dlt.common.destination.exceptions import DestinationTransientException
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob

from pipelines.warehouse import LOADER_FILE_FORMAT, duckdb_destination
from sandbox.server import SandboxServer
from sources.common import clock
from sources.common.epoch import day_to_epoch_ms, instant_to_epoch_ms
from sources.common.errors import AuthError, QuotaExhaustedError
from sources.common.stats import RUN_STATS
from sources.hubspot import hubspot_leads, leads
from sources.hubspot.client import leads_client
from sources.hubspot.leads_flatten import EVENTS_TABLE, LEADS_TABLE, VALUES_TABLE
from tests.conftest import stopped_clock
from tests.support.stops import stopped_with

NIGHT = pendulum.datetime(2026, 11, 20, 2, tz="UTC")  # sandbox today 2026-11-20
NEXT_NIGHT = NIGHT.add(days=1)
START = "2026-11-13"
SMALL = {"leads_per_day": 12, "history_days": 60}
MANY_PAGES = {"leads_per_day": 40, "history_days": 60}
CANARY = "canary-7f3c9e2b-leads-token"
TABLES = (LEADS_TABLE, EVENTS_TABLE, VALUES_TABLE)


# --- helpers ---------------------------------------------------------------------------------------


class Loader:
    """One dlt pipeline into a DuckDB file under tmp_path (the CLI's destination), run with the clock pinned."""

    def __init__(self, sandbox: SandboxServer, tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.db = tmp_path / "w.duckdb"
        self.pipelines_dir = tmp_path / "dlt"
        self.pipeline = dlt.pipeline(
            pipeline_name="test_hubspot_leads",
            destination=duckdb_destination(self.db),  # the CLI's: exactly-once appends, memory defaults
            dataset_name="marketing",
            pipelines_dir=str(self.pipelines_dir),
        )

    def run(self, now: pendulum.DateTime = NIGHT, **source_kwargs: Any) -> Any:
        kwargs: dict[str, Any] = {
            "access_token": self.sandbox.config.hubspot_token,
            "base_url": self.sandbox.base_url,
            "start_date": START,
            **source_kwargs,
        }
        with clock.pinned(now):
            return self.pipeline.run(hubspot_leads(**kwargs), loader_file_format=LOADER_FILE_FORMAT["duckdb"])

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()

    def count(self, table: str, where: str = "true") -> int:
        return self.query(f"SELECT COUNT(*) FROM marketing.{table} WHERE {where}")[0][0]

    def column_types(self, table: str) -> dict[str, str]:
        sql = "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'marketing' AND table_name = ?"
        return dict(self.query(sql, table))

    def cursor_state(self) -> Any:
        return self.pipeline.state["sources"]["hubspot_leads"]["resources"]["hubspot_leads"]["incremental"]


def epoch_ms(at: pendulum.DateTime | pendulum.Date) -> int:
    return instant_to_epoch_ms(at) if isinstance(at, pendulum.DateTime) else day_to_epoch_ms(at)


def sandbox_leads(sandbox: SandboxServer, start_ms: int, stop_ms: int) -> list[dict[str, Any]]:
    """Every lead with start <= lastModifiedAt <= stop, straight from the sandbox (plain offsets, clock stopped).

    Resets the sandbox's request log afterwards, so tests count only the source's requests."""
    out: list[dict[str, Any]] = []
    with httpx.Client(base_url=sandbox.base_url) as http, stopped_clock(sandbox):
        while True:
            params = {
                "access_token": sandbox.config.hubspot_token,
                "timePivot": "lastModifiedAt",
                "sort": "lastModifiedAt",
                "dir": "asc",
                "includeDeleted": "true",
                "startTime": start_ms,
                "stopTime": stop_ms,
                "max": 100,
                "offset": len(out),
            }
            page = http.get("/leads/v1/list", params=params).json()
            out.extend(page)
            if len(page) < 100:
                sandbox.reset_stats()
                return out


def expected(sandbox: SandboxServer, start: str = START, now: pendulum.DateTime = NIGHT) -> list[dict[str, Any]]:
    return sandbox_leads(sandbox, epoch_ms(pendulum.parse(start).date()), epoch_ms(now))


def events_of(lead: dict[str, Any]) -> int:
    return len(lead["leadConversionEvents"])


def values_of(lead: dict[str, Any]) -> int:
    return sum(len(e["formSubmissionValues"]) for e in lead["leadConversionEvents"])


def leads_requests(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [r for r in sandbox.request_log if r["path"].startswith("/leads/v1/list")]


def param(request: dict[str, Any], name: str) -> str:
    value = request["query"][name]
    return value[0] if isinstance(value, list) else value


def assert_matches_sandbox(
    loader: Loader, want: list[dict[str, Any]], start: str = START, now: pendulum.DateTime = NIGHT
) -> None:
    """Every row exactly once. `want` is the window read before the run: each lead still in it after the run
    (not edited mid-run) is loaded, and every loaded lead is one of `want` exactly as it was then."""
    by_guid = {lead["guid"]: lead for lead in want}
    assert len(by_guid) == len(want)
    stayed = {lead["guid"] for lead in expected(loader.sandbox, start, now)}
    loaded = dict(loader.query(f"SELECT guid, epoch_ms(last_modified_at) FROM marketing.{LEADS_TABLE}"))
    assert loader.count(LEADS_TABLE) == len(loaded), "a lead was loaded twice"
    assert stayed <= set(loaded) <= set(by_guid), (
        sorted(stayed - set(loaded))[:5],
        sorted(set(loaded) - set(by_guid))[:5],
    )
    assert all(by_guid[guid]["lastModifiedAt"] == ms for guid, ms in loaded.items())
    assert loader.count(EVENTS_TABLE) == sum(events_of(by_guid[guid]) for guid in loaded)
    assert loader.count(VALUES_TABLE) == sum(values_of(by_guid[guid]) for guid in loaded)
    dup_events = f"SELECT lead_guid, position FROM marketing.{EVENTS_TABLE} GROUP BY 1, 2 HAVING COUNT(*) > 1"
    assert loader.query(dup_events) == []
    assert loader.query(f"SELECT COUNT(DISTINCT id) FROM marketing.{VALUES_TABLE}")[0][0] == loader.count(VALUES_TABLE)


@pytest.fixture
def loader(sandbox: SandboxServer, tmp_path: Path) -> Iterator[Loader]:
    RUN_STATS.reset()
    yield Loader(sandbox, tmp_path)


# --- paging ----------------------------------------------------------------------------------------


@pytest.mark.sandbox_config(leads_per_day=3, history_days=10)
def test_one_page(loader: Loader, sandbox: SandboxServer) -> None:
    want = expected(sandbox)
    assert 0 < len(want) < 100
    loader.run()
    assert len(leads_requests(sandbox)) == 1
    assert_matches_sandbox(loader, want)


@pytest.mark.sandbox_config(**MANY_PAGES)
def test_many_pages_every_row_once_with_the_documented_query(loader: Loader, sandbox: SandboxServer) -> None:
    want = expected(sandbox)
    assert len(want) > 300  # several pages
    sandbox.reset_stats()
    loader.run()
    requests = leads_requests(sandbox)
    assert_matches_sandbox(loader, want)  # (resets the request log)
    assert len(requests) >= len(want) // 100 + 1
    assert {r["status"] for r in requests} == {200}
    for request in requests:
        assert param(request, "max") == "100"  # the clamp: never more than the vendor serves
        assert param(request, "timePivot") == param(request, "sort") == "lastModifiedAt"
        assert param(request, "dir") == "asc"
        assert param(request, "includeDeleted") == "true"
        assert param(request, "stopTime") == str(epoch_ms(NIGHT))  # frozen at the run's start
    starts = [int(param(r, "startTime")) for r in requests]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)  # re-anchored on every page


@pytest.mark.sandbox_config(**MANY_PAGES)
def test_leads_modified_mid_run_leave_the_window_without_skipping_others(
    loader: Loader, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox's clock jumps five days after the first page: leads edited that day leave the frozen window
    (their lastModifiedAt passes stopTime) — including some already read — and nothing else is skipped."""
    before = {lead["guid"]: lead["lastModifiedAt"] for lead in expected(sandbox)}
    real_fetch = leads.fetch_pages

    def fetch_then_edit(*args: Any) -> Iterator[list[dict[str, Any]]]:
        for number, page in enumerate(real_fetch(*args)):
            yield page
            if number == 0:
                sandbox.set_today(pendulum.date(2026, 11, 25))  # five more days of edits become visible

    monkeypatch.setattr(leads, "fetch_pages", fetch_then_edit)
    loader.run()

    after = {lead["guid"]: lead["lastModifiedAt"] for lead in expected(sandbox, now=NIGHT)}
    left = set(before) - set(after)
    first_page_time = sorted(before.values())[99]
    assert any(before[g] <= first_page_time for g in left), "the scenario must move a lead already read"
    stayed = {g for g in before if after.get(g) == before[g]}
    loaded = {row[0] for row in loader.query(f"SELECT guid FROM marketing.{LEADS_TABLE}")}
    assert stayed <= loaded, f"skipped: {sorted(stayed - loaded)[:5]}"
    assert loader.query(f"SELECT COUNT(DISTINCT guid) = COUNT(*) FROM marketing.{LEADS_TABLE}")[0][0]


# --- vendor failures -------------------------------------------------------------------------------


@pytest.mark.sandbox_config(**SMALL)
@pytest.mark.parametrize("fault", ["hubspot_leads:status=429,count=1", "hubspot_leads:status=503,count=2"])
def test_transient_failures_are_retried_then_everything_loads(
    loader: Loader, sandbox: SandboxServer, fault: str
) -> None:
    want = expected(sandbox)
    sandbox.set_faults(fault)  # the 429 comes without Retry-After
    loader.run()
    status, count = fault.split("status=")[1].split(",count=")
    statuses = [r["status"] for r in leads_requests(sandbox)]
    assert statuses[: int(count) + 1] == [int(status)] * int(count) + [200]  # the faults were really served
    assert sandbox.stats()["by_vendor_status"]["hubspot_leads"][status] == int(count)
    assert_matches_sandbox(loader, want)
    assert RUN_STATS.snapshot()["retries"].get("hubspot", 0) == int(count)


@pytest.mark.sandbox_config(hubspot_token=CANARY, **SMALL)
def test_401_stops_with_one_sentence_and_no_token(loader: Loader, sandbox: SandboxServer) -> None:
    loader.run(access_token="wrong-" + CANARY)
    error = stopped_with("hubspot_leads", AuthError)
    message = str(error)
    assert message.count(". ") == 0 and message.endswith("."), message
    assert "rejected the credentials" in message
    assert CANARY not in message and CANARY not in repr(error)
    assert len(leads_requests(sandbox)) == 1  # not retried


# --- incremental -----------------------------------------------------------------------------------


@pytest.mark.sandbox_config(**SMALL, clock_step_ms=0)  # the night's changes, counted exactly: no mid-run edits
def test_second_nightly_loads_only_new_and_changed_leads(loader: Loader, sandbox: SandboxServer) -> None:
    loader.run()
    cursor = loader.cursor_state()["lastModifiedAt"]["last_value"]
    sandbox.set_today(pendulum.date(2026, 11, 21))
    changed = sandbox_leads(sandbox, cursor, epoch_ms(NEXT_NIGHT))
    sandbox.reset_stats()
    info = loader.run(now=NEXT_NIGHT)

    requests = leads_requests(sandbox)
    assert changed and len(requests) >= len(changed) // 100 + 1  # the hard sandbox edits hundreds a day
    assert int(param(requests[0], "startTime")) == cursor  # starts at the cursor
    row_counts = loader.pipeline.last_trace.last_normalize_info.row_counts
    fresh = [lead for lead in changed if lead["lastModifiedAt"] > cursor]  # the boundary lead is deduplicated
    assert row_counts[LEADS_TABLE] == len(fresh)
    assert_matches_sandbox(loader, expected(sandbox, now=NEXT_NIGHT), now=NEXT_NIGHT)
    assert info.has_failed_jobs is False


@pytest.mark.sandbox_config(**SMALL)
def test_same_day_rerun_changes_nothing(loader: Loader, sandbox: SandboxServer) -> None:
    loader.run()
    counts = [loader.count(t) for t in TABLES]
    state = loader.cursor_state()
    sandbox.reset_stats()
    loader.run()
    assert [loader.count(t) for t in TABLES] == counts
    assert loader.cursor_state()["lastModifiedAt"]["last_value"] == state["lastModifiedAt"]["last_value"]
    assert len(leads_requests(sandbox)) == 1
    assert not {t for t in loader.pipeline.last_trace.last_normalize_info.row_counts if not t.startswith("_dlt")}


# Churn re-edits every lead of this small world about daily, so no lead would stay last modified in October.
@pytest.mark.sandbox_config(**SMALL, leads_churn_per_hour=0.0)
def test_backfill_loads_its_range_and_leaves_the_cursor_alone(loader: Loader, sandbox: SandboxServer) -> None:
    loader.run()
    before = loader.cursor_state()
    first, last = pendulum.date(2026, 10, 1), pendulum.date(2026, 10, 3)
    want = sandbox_leads(sandbox, epoch_ms(first), epoch_ms(last.add(days=1)) - 1)
    loader.run(backfill_start=first, backfill_end=last)
    assert loader.cursor_state() == before
    loaded = {row[0] for row in loader.query(f"SELECT guid FROM marketing.{LEADS_TABLE}")}
    assert {lead["guid"] for lead in want} <= loaded
    in_range = loader.count(LEADS_TABLE, "last_modified_at < TIMESTAMPTZ '2026-11-13 00:00:00+00'")
    assert in_range == len(want) > 0


# --- content ---------------------------------------------------------------------------------------


# Exact counts across runs: leads edited while a run pages (the moving clock) are noise for what is tested here.
@pytest.mark.sandbox_config(leads_per_day=30, history_days=120, clock_step_ms=0)
def test_deleted_leads_are_flagged_then_removed_with_hard_delete(sandbox: SandboxServer, tmp_path: Path) -> None:
    want = expected(sandbox)
    deleted = {lead["guid"] for lead in want if lead["isDeleted"]}
    assert deleted
    soft = Loader(sandbox, tmp_path / "soft")
    soft.run()
    assert {r[0] for r in soft.query(f"SELECT guid FROM marketing.{LEADS_TABLE} WHERE is_deleted")} == deleted

    hard = Loader(sandbox, tmp_path / "hard")
    hard.run(hard_delete=True)
    assert hard.count(LEADS_TABLE, "is_deleted") == 0
    assert hard.count(LEADS_TABLE) == len(want) - len(deleted)
    guids = ", ".join(f"'{g}'" for g in deleted)
    for table in (EVENTS_TABLE, VALUES_TABLE):
        assert hard.count(table, f"lead_guid IN ({guids})") == 0
    assert hard.count(EVENTS_TABLE, "_tombstone") == 0


@pytest.mark.sandbox_config(leads_per_day=30, history_days=120)
def test_hard_delete_removes_a_lead_deleted_after_it_was_loaded(loader: Loader, sandbox: SandboxServer) -> None:
    loader.run(hard_delete=True)
    sandbox.set_today(pendulum.date(2026, 11, 23))
    newly_deleted = [
        lead["guid"]
        for lead in sandbox_leads(sandbox, epoch_ms(pendulum.date(2026, 11, 20)), epoch_ms(pendulum.date(2026, 11, 23)))
        if lead["isDeleted"]
    ]
    already = {r[0] for r in loader.query(f"SELECT guid FROM marketing.{LEADS_TABLE}")}
    was_loaded = [g for g in newly_deleted if g in already]
    assert was_loaded, "the scenario needs a loaded lead that gets deleted later"
    loader.run(now=pendulum.datetime(2026, 11, 23, 2, tz="UTC"), hard_delete=True)
    guids = ", ".join(f"'{g}'" for g in was_loaded)
    for table in TABLES:
        column = "guid" if table == LEADS_TABLE else "lead_guid"
        assert loader.count(table, f"{column} IN ({guids})") == 0


# Exact counts across runs: leads edited while a run pages (the moving clock) are noise for what is tested here.
@pytest.mark.sandbox_config(leads_per_day=30, history_days=120, clock_step_ms=0)
def test_children_are_replaced_when_a_lead_gains_an_event(loader: Loader, sandbox: SandboxServer) -> None:
    first = {lead["guid"]: lead for lead in expected(sandbox)}
    loader.run()
    sandbox.set_today(pendulum.date(2026, 11, 24))
    now = pendulum.datetime(2026, 11, 24, 2, tz="UTC")
    later = {lead["guid"]: lead for lead in expected(sandbox, now=now)}
    gained = [g for g in first if g in later and events_of(later[g]) > events_of(first[g])]
    assert gained, "the scenario needs a loaded lead that converts again"
    loader.run(now=now)
    for guid in gained:
        events = loader.query(f"SELECT guid FROM marketing.{EVENTS_TABLE} WHERE lead_guid = ? ORDER BY position", guid)
        assert [e[0] for e in events] == [e["guid"] for e in later[guid]["leadConversionEvents"]]
        assert loader.count(VALUES_TABLE, f"lead_guid = '{guid}'") == values_of(later[guid])
    assert_matches_sandbox(loader, list(later.values()))


@pytest.mark.sandbox_config(**SMALL)
def test_epoch_ms_are_timezone_aware_timestamps_and_zero_is_null(loader: Loader, sandbox: SandboxServer) -> None:
    want = {lead["guid"]: lead for lead in expected(sandbox)}
    loader.run()
    types = loader.column_types(LEADS_TABLE)
    for column in ("inserted_at", "last_modified_at", "closed_at", "analytics_details__first_visit_at"):
        assert types[column] == "TIMESTAMP WITH TIME ZONE", column
    rows = loader.query(f"SELECT guid, closed_at, last_modified_at FROM marketing.{LEADS_TABLE}")
    for guid, closed_at, last_modified_at in rows:
        assert (closed_at is None) == (want[guid]["closedAt"] == 0)
        assert last_modified_at.tzinfo is not None
        assert int(last_modified_at.timestamp() * 1000) == want[guid]["lastModifiedAt"]
    assert loader.column_types(EVENTS_TABLE)["convert_date"] == "TIMESTAMP WITH TIME ZONE"


# Exact counts across runs: leads edited while a run pages (the moving clock) are noise for what is tested here.
@pytest.mark.sandbox_config(**SMALL, clock_step_ms=0)
@pytest.mark.parametrize("fault", ["hubspot_leads:type_change=score,nth=1", "hubspot_leads:type_change=lastModifiedAt"])
def test_vendor_type_drift_is_absorbed(loader: Loader, sandbox: SandboxServer, fault: str) -> None:
    want = expected(sandbox)
    sandbox.set_today(pendulum.date(2026, 11, 20))
    loader.run(start_date="2026-11-01")  # a first load, types settle
    sandbox.set_faults(fault)
    sandbox.reset_stats()
    loader.run()  # same window again through the drifted API: merge, no failure
    drifted = [r for r in leads_requests(sandbox) if r["faults"] == ["type_change"]]
    assert drifted and drifted[0]["status"] == 200  # the drift was really served
    assert loader.count(LEADS_TABLE, "last_modified_at >= TIMESTAMPTZ '2026-11-13 00:00:00+00'") == len(want)
    types = loader.column_types(LEADS_TABLE)
    assert types["score"] == "DOUBLE" and types["last_modified_at"] == "TIMESTAMP WITH TIME ZONE"


# --- secrets and file format -----------------------------------------------------------------------


@pytest.mark.sandbox_config(hubspot_token=CANARY, **SMALL)
def test_the_token_appears_nowhere(
    loader: Loader, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.set_faults("hubspot_leads:status=503,count=1")  # a retry logs the URL
    loader.run()
    sandbox.set_faults(None)
    loader.run(access_token=CANARY + "-revoked", start_date="2026-11-19")
    error = stopped_with("hubspot_leads", AuthError)
    assert loader.count(LEADS_TABLE) > 0
    assert any("retry" in r.getMessage() for r in caplog.records)

    assert CANARY not in caplog.text
    assert CANARY not in str(error) and CANARY not in repr(error) and CANARY not in error.details()
    assert CANARY not in repr(leads_client(CANARY, sandbox.base_url))
    for path in tmp_path.rglob("*"):  # state, schemas, load packages, trace pickle, the DuckDB file
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    assert CANARY not in str(loader.pipeline.last_trace)
    text_columns = loader.query(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'marketing' AND data_type = 'VARCHAR'"
    )
    for table, column in text_columns:
        hits = loader.query(f'SELECT COUNT(*) FROM marketing."{table}" WHERE "{column}" LIKE ?', f"%{CANARY}%")
        assert hits[0][0] == 0, (table, column)


@pytest.mark.sandbox_config(**SMALL)
def test_the_load_uses_parquet_not_insert_values_nor_dlts_row_normalizer(
    loader: Loader, sandbox: SandboxServer
) -> None:
    source = hubspot_leads(access_token=sandbox.config.hubspot_token, base_url=sandbox.base_url, start_date=START)
    with clock.pinned(NIGHT):
        info = loader.pipeline.run(source, loader_file_format=LOADER_FILE_FORMAT["duckdb"])
    jobs = [job for package in info.load_packages for job in package.jobs["completed_jobs"]]
    # Data jobs only: the merge itself runs as a follow-up `.sql` job per table.
    data = [j for j in jobs if j.job_file_info.table_name in TABLES and j.job_file_info.file_format != "sql"]
    assert {job.job_file_info.table_name for job in data} == set(TABLES)
    assert {job.job_file_info.file_format for job in data} == {"parquet"}, [job.file_path for job in data]
    # ...and the batches skipped dlt's row normalizer: arrow items are written as parquet when extracted,
    # dicts as typed-jsonl (which the normalizer then turns into parquet, so the check above cannot tell).
    extracted = [
        job.job_file_info
        for package in loader.pipeline.last_trace.last_extract_info.load_packages
        for job in package.jobs["new_jobs"]
        if job.job_file_info.table_name in TABLES
    ]
    assert {f.table_name for f in extracted} == set(TABLES)
    assert {f.file_format for f in extracted} == {"parquet"}, [(f.table_name, f.file_format) for f in extracted]
    # ...and were built column-wise, not flattened row by row in Python (leads_flatten.nested_to_tables).
    (step,) = [s for s in source.resources[LEADS_TABLE]._pipe.steps if isinstance(s, leads.FlattenLeadsPages)]
    assert step.arrow_batches >= 3 and step.row_batches == step.drift_batches == 0


# Exact counts across runs: leads edited while a run pages (the moving clock) are noise for what is tested here.
@pytest.mark.sandbox_config(**SMALL, clock_step_ms=0)
def test_the_cli_nightly_loads_the_three_tables(sandbox: SandboxServer, warehouse: Any, cli: Any) -> None:
    """End to end through `marketing-elt run` (the lead's CLI and runner pick the file format)."""
    want = expected(sandbox, start="2026-11-10")  # the `warehouse` fixture's start_date
    result = cli("run", "--sources", "hubspot_leads")
    assert result.code == 0, result.err
    assert warehouse.count(LEADS_TABLE) == len(want)
    assert warehouse.count(EVENTS_TABLE) == sum(map(events_of, want))
    assert warehouse.count(VALUES_TABLE) == sum(map(values_of, want))


# --- time slices side by side (a first load, a backfill) -------------------------------------------

LONG_START = "2026-09-21"  # 60 days before the night: 8 time slices of 7.5 days (settings.LEADS_SLICE_DAYS)
LONG = {"leads_per_day": 20, "history_days": 60}


def long_loader(sandbox_factory: Any, tmp_path: Path) -> tuple[SandboxServer, Loader]:
    """LONG behind 20 ms of latency per request, so the slices' requests can overlap."""
    RUN_STATS.reset()
    sandbox = sandbox_factory(latency_ms=20, **LONG)
    return sandbox, Loader(sandbox, tmp_path)


def test_a_long_first_load_pages_time_slices_side_by_side_every_row_once(sandbox_factory: Any, tmp_path: Path) -> None:
    """The hard sandbox edits leads while the run pages: those leave the frozen window (the next night loads
    them, as without slices); every other lead is loaded exactly once."""
    sandbox, loader = long_loader(sandbox_factory, tmp_path)
    before = {lead["guid"]: lead["lastModifiedAt"] for lead in expected(sandbox, start=LONG_START)}
    loader.run(start_date=LONG_START)

    requests = leads_requests(sandbox)
    stops = [int(param(r, "stopTime")) for r in requests]
    assert len(set(stops)) == 8 and max(stops) == epoch_ms(NIGHT)  # one stopTime per slice, the last the run's
    # Whether the slices' requests interleave in the sandbox's log depends on timing (sorted in 2 of 5 runs
    # even at 150 ms): not asserted here; `make bench` measures the side-by-side speed-up instead.
    for stop in set(stops):  # each slice is keyset-paged as a whole range is
        starts = [int(param(r, "startTime")) for r in requests if int(param(r, "stopTime")) == stop]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)

    with stopped_clock(sandbox):
        after = {lead["guid"]: lead["lastModifiedAt"] for lead in expected(sandbox, start=LONG_START)}
    stayed = {guid for guid, modified in before.items() if after.get(guid) == modified}
    loaded = [guid for (guid,) in loader.query(f"SELECT guid FROM marketing.{LEADS_TABLE}")]
    assert len(loaded) == len(set(loaded)) and len(stayed) > 1_000
    assert stayed <= set(loaded), f"skipped: {sorted(stayed - set(loaded))[:5]}"
    (newest,) = loader.query(f"SELECT MAX(last_modified_at) FROM marketing.{LEADS_TABLE}")[0]
    assert loader.cursor_state()["lastModifiedAt"]["last_value"] == instant_to_epoch_ms(newest)


@pytest.mark.kind_sandbox  # a world that stands still, so "every lead up to the cursor" is exact
def test_a_daily_429_in_any_slice_keeps_a_gapless_prefix_and_the_cursor_on_it(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """Whichever slice meets the DAILY 429 first, what is loaded is every lead up to the cursor and nothing
    after it (pages are yielded in slice order), and the next night completes the data, every row once."""
    sandbox, loader = long_loader(sandbox_factory, tmp_path)
    sandbox.set_faults("hubspot_leads:status=429,policy=DAILY,start=7")
    loader.run(start_date=LONG_START)
    assert "DAILY" in str(stopped_with("hubspot_leads", QuotaExhaustedError))

    cursor = loader.cursor_state()["lastModifiedAt"]["last_value"]
    loaded = {guid for (guid,) in loader.query(f"SELECT guid FROM marketing.{LEADS_TABLE}")}
    (newest,) = loader.query(f"SELECT MAX(last_modified_at) FROM marketing.{LEADS_TABLE}")[0]
    assert cursor == instant_to_epoch_ms(newest)  # never ahead of the data
    sandbox.set_faults(None)
    prefix = {lead["guid"] for lead in sandbox_leads(sandbox, epoch_ms(pendulum.parse(LONG_START).date()), cursor)}
    assert 100 <= len(loaded) < 1_000
    assert loaded == prefix, f"a gap behind the cursor: {sorted(prefix - loaded)[:5]}"

    later = NIGHT.add(minutes=5)
    loader.run(now=later)
    assert_matches_sandbox(loader, expected(sandbox, start=LONG_START, now=later), start=LONG_START, now=later)


# --- the first load appends, exactly once ----------------------------------------------------------


def dispositions(loader: Loader) -> set[str]:
    return {loader.pipeline.default_schema.tables[t]["write_disposition"] for t in TABLES}


@pytest.mark.kind_sandbox  # a world that stands still: the expected rows are exact
@pytest.mark.sandbox_config(**SMALL)
def test_the_first_load_appends_and_a_file_loaded_again_after_its_commit_inserts_nothing(
    loader: Loader, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first load appends (no staging copy); dlt loading a file again after DuckDB committed it (here:
    the client fails right after the commit, and dlt retries the job) inserts nothing the second time.
    The next night merges, as every later run does."""
    committed: list[str] = []
    copy = DuckDbCopyJob.run

    def commit_then_fail_once(job: DuckDbCopyJob) -> None:
        copy(job)
        if not committed:
            committed.append(job.load_table_name)
            raise DestinationTransientException("the connection dropped after the commit")

    monkeypatch.setattr(DuckDbCopyJob, "run", commit_then_fail_once)
    want = expected(sandbox)
    loader.run()
    assert committed, "a file was committed, then loaded again"
    assert_matches_sandbox(loader, want)
    assert dispositions(loader) == {"append"}
    for table in (EVENTS_TABLE, VALUES_TABLE):
        assert loader.count(table, "_tombstone") == 0  # tombstones only tell a merge what to delete

    sandbox.set_today(pendulum.date(2026, 11, 21))
    loader.run(now=NEXT_NIGHT)
    assert dispositions(loader) == {"merge"}
    tables = loader.pipeline.default_schema.tables  # the merge's own hints are back
    assert tables[LEADS_TABLE]["columns"]["last_modified_at"].get("dedup_sort") == "desc"
    assert all(tables[t]["columns"]["_tombstone"].get("hard_delete") for t in (EVENTS_TABLE, VALUES_TABLE))
    assert_matches_sandbox(loader, expected(sandbox, now=NEXT_NIGHT), now=NEXT_NIGHT)


@pytest.mark.kind_sandbox
@pytest.mark.sandbox_config(**SMALL)
def test_a_nightly_after_a_backfill_merges(loader: Loader, sandbox: SandboxServer) -> None:
    """The backfill was the first load; the nightly after it must not append over the leads it stored."""
    loader.run(backfill_start=pendulum.date(2026, 11, 13), backfill_end=pendulum.date(2026, 11, 19))
    assert dispositions(loader) == {"append"}
    loader.run()
    assert dispositions(loader) == {"merge"}
    assert_matches_sandbox(loader, expected(sandbox))
