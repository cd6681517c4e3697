"""End-to-end runs through the CLI: one failing source does not stop the others, status reports cursors,
and configuration mistakes found while building sources are refused before state or requests."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

# Every run here loads all four sources. Humblytics' 10 requests a second would make each run wait seconds for
# it and spend MAX_ATTEMPTS=2 meant for the failing Leads: noise for what these tests are about. (That limit
# once exhausted a month's backfill; the adaptive limiter fixed it: tests/reliability and the soak cover it.)
pytestmark = pytest.mark.sandbox_config(humblytics_rate_limit=None)


def test_a_failing_source_is_reported_and_the_others_load(sandbox, warehouse, cli, monkeypatch) -> None:
    """Leads answer 503 for the whole run: analytics still lands; exit 1 with one sentence; a rerun catches up."""
    monkeypatch.setenv("MARKETING_ELT__HTTP__MAX_ATTEMPTS", "2")
    monkeypatch.setenv("MARKETING_ELT__HTTP__BACKOFF_BASE_S", "0.01")
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals"]')
    sandbox.set_faults("hubspot_leads:status=503")

    failed = cli("run")

    assert failed.code == 1
    errors = [line for line in failed.err.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: hubspot_leads: hubspot kept failing on leads/list (HTTP 503, 2 attempts): try again later."
    ]
    assert "Traceback" not in failed.err
    assert "hubspot_analytics: ok" in failed.out and "hubspot_leads: FAILED" in failed.out
    assert warehouse.count("hubspot_analytics_totals") == 10  # 2026-11-10 .. 2026-11-19
    with pytest.raises(duckdb.CatalogException, match="hubspot_leads"):
        warehouse.count("hubspot_leads")
    assert sandbox.stats()["by_vendor_status"]["hubspot_leads"] == {"503": 2}  # MAX_ATTEMPTS, all faulted

    sandbox.set_faults(None)
    rerun = cli("run", "--sources", "hubspot_leads")
    assert rerun.code == 0, rerun.err
    assert warehouse.count("hubspot_leads") > 0


def test_status_shows_cursor_and_rows_after_a_nightly(sandbox, warehouse, cli, monkeypatch) -> None:
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals"]')
    assert cli("run").code == 0
    status = cli("status")
    assert status.code == 0
    assert "hubspot_analytics_totals  date    2026-11-19" in status.out
    leads = warehouse.count("hubspot_leads")
    assert any(line.split()[:2] == ["hubspot_leads", str(leads)] for line in status.out.splitlines())
    # epoch ms shown as a UTC timestamp: the newest lead of the night, edited yesterday or before 02:00 today
    assert re.search(r"lastModifiedAt  2026-11-(19|20)T", status.out), status.out
    # arrow batches skip dlt's normalizer; config still stamps each row with its load id
    assert warehouse.query("SELECT COUNT(*) FROM marketing.hubspot_leads WHERE _dlt_load_id IS NULL") == [(0,)]


def test_status_before_any_run_creates_nothing(sandbox, warehouse, cli) -> None:
    status = cli("status")
    assert status.code == 0
    assert "never run" in status.out
    assert not warehouse.path.exists()
    assert sandbox.request_log == []


@pytest.mark.parametrize(
    ("env", "value", "needle"),
    [
        ("SOURCES__HUBSPOT__REPORTS", '["totals", "nope"]', "nope"),
        ("SOURCES__HUBSPOT__REPORTS", "totals,sources", "takes a JSON list"),
        ("SOURCES__HUBSPOT__LOOKBACK_DAYS", "-1", "lookback_days"),
        ("MARKETING_ELT__HTTP__MAX_ATTEMPTS", "0", "MARKETING_ELT__HTTP__MAX_ATTEMPTS"),
        ("SOURCES__HUBSPOT__TIMEZONE", "Mars/Base", "not an IANA timezone"),
    ],
)
def test_bad_source_config_is_refused_before_state(sandbox, warehouse, cli, monkeypatch, env, value, needle) -> None:
    monkeypatch.setenv(env, value)
    result = cli("run", "--sources", "hubspot_analytics")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.err
    assert sandbox.request_log == []
    assert not warehouse.data_dir.exists()


def _snapshot(warehouse, tables: list[str]) -> dict[str, list[tuple]]:
    """Table contents without the per-load columns, order-independent."""
    out = {}
    for table in tables:
        columns = [
            row[0]
            for row in warehouse.query(f"DESCRIBE marketing.{table}")
            if row[0] not in {"_dlt_load_id", "_dlt_id", "_loaded_at"}
        ]
        rows = warehouse.query(f"SELECT {', '.join(columns)} FROM marketing.{table}")
        out[table] = sorted(rows, key=repr)
    return out


def test_backfill_twice_changes_nothing_and_leaves_the_cursors(sandbox, warehouse, cli, monkeypatch) -> None:
    """nightly; backfill A; backfill A again: the second backfill changes no row, and no cursor ever moves."""
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals", "sources"]')
    assert cli("run").code == 0
    cursors = [line for line in cli("status").out.splitlines() if "  date  " in line or "lastModifiedAt" in line]
    tables = [
        "hubspot_analytics_totals",
        "hubspot_analytics_sources",
        "hubspot_leads",
        "hubspot_leads__lead_conversion_events",
        "hubspot_leads__lead_conversion_events__form_submission_values",
    ]

    first = cli("backfill", "--start", "2026-10-01", "--end", "2026-10-31")
    assert first.code == 0, first.err
    after_first = _snapshot(warehouse, tables)
    assert warehouse.query("SELECT MIN(date) FROM marketing.hubspot_analytics_totals") == [(dt.date(2026, 10, 1),)]
    second = cli("backfill", "--start", "2026-10-01", "--end", "2026-10-31")
    assert second.code == 0, second.err

    assert _snapshot(warehouse, tables) == after_first
    status = cli("status").out.splitlines()
    assert [line for line in status if "  date  " in line or "lastModifiedAt" in line] == cursors


def test_portal_timezone_decides_which_day_is_complete(sandbox, warehouse, cli, monkeypatch) -> None:
    """At 02:00 UTC it is still the 19th in Los Angeles: a Los Angeles portal's nightly stops at the 18th."""
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals"]')
    monkeypatch.setenv("SOURCES__HUBSPOT__TIMEZONE", "America/Los_Angeles")
    assert cli("run", "--sources", "hubspot_analytics").code == 0
    assert warehouse.query("SELECT MAX(date) FROM marketing.hubspot_analytics_totals") == [(dt.date(2026, 11, 18),)]


def test_analytics_schema_drift_adds_columns_and_survives_type_changes(sandbox, warehouse, cli, monkeypatch) -> None:
    """A new metric becomes a new column; a metric sent as text (3 -> "3") still loads with the same values."""
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["sources"]')
    assert cli("run", "--sources", "hubspot_analytics").code == 0
    per_day = "SELECT date, COUNT(*), SUM(visits) FROM marketing.hubspot_analytics_sources GROUP BY 1 ORDER BY 1"
    before = warehouse.query(per_day)

    sandbox.set_faults("hubspot_analytics:new_field=channelGroup,parent=visits;hubspot_analytics:type_change=visits")
    drifted = cli("run", "--sources", "hubspot_analytics")  # the same night again: the lookback is re-read
    assert drifted.code == 0, drifted.err

    columns = {row[0]: row[1] for row in warehouse.query("DESCRIBE marketing.hubspot_analytics_sources")}
    assert columns["channel_group"] == "VARCHAR"
    assert columns["visits"] == "BIGINT"
    drifted_rows = warehouse.query(
        "SELECT COUNT(*) FROM marketing.hubspot_analytics_sources WHERE channel_group = 'drifted'"
    )[0][0]
    assert drifted_rows > 0
    # the re-read days came as text and were coerced back: same rows, same totals as the clean load
    assert warehouse.query(per_day) == before


def test_demo_loads_every_built_source_and_keeps_its_state_apart(warehouse, cli, monkeypatch, tmp_path) -> None:
    """`marketing-elt demo`: own sandbox, nightly for all built sources, a table of what landed; the demo's
    pipeline state goes to ./.dlt_demo, never to the DLT_DATA_DIR of real runs."""
    workdir = tmp_path / "project"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals", "sources"]')

    result = cli("demo")

    assert result.code == 0, result.err
    assert "hubspot_analytics: ok" in result.out and "hubspot_leads: ok" in result.out
    landed = result.out.split("What landed in", 1)[1]
    for table in ("hubspot_analytics_totals", "hubspot_analytics_sources", "hubspot_leads"):
        assert f"\n{table} " in landed
    assert (workdir / ".dlt_demo").is_dir()
    assert not warehouse.data_dir.exists()
    assert warehouse.count("hubspot_analytics_totals") == 10


def buggy_source(**_: object) -> None:
    """A source factory with a bug in it (not a configuration problem)."""
    return {}["missing"]  # KeyError


@pytest.mark.parametrize("log_level", ["WARNING", "DEBUG"])
def test_a_bug_while_preparing_a_source_is_exit_1_not_bad_configuration(
    sandbox, warehouse, cli, monkeypatch, log_level
) -> None:
    """Only dlt's configuration errors and ours are exit 2; any other exception is a bug: exit 1, one line,
    the traceback only at DEBUG."""
    import dataclasses

    from pipelines.registry import SOURCES

    spec = SOURCES["hubspot_analytics"]
    monkeypatch.setitem(SOURCES, spec.name, dataclasses.replace(spec, factory=f"{__name__}:buggy_source"))

    result = cli("--log-level", log_level, "run", "--sources", "hubspot_analytics")

    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: hubspot_analytics could not be prepared because of a bug in marketing-elt, not your configuration "
        "(KeyError: 'missing'); rerun with --log-level DEBUG for the traceback and report it."
    ]
    assert ("Traceback" in result.err) == (log_level == "DEBUG")
    assert sandbox.request_log == []
    assert not warehouse.data_dir.exists()


def test_a_dlt_configuration_error_while_preparing_is_exit_2(sandbox, warehouse, cli, monkeypatch) -> None:
    """A value dlt cannot coerce is bad configuration: exit 2, naming the env var and what it takes."""
    monkeypatch.setenv("SOURCES__HUBSPOT__LOOKBACK_DAYS", "three")
    result = cli("run", "--sources", "hubspot_analytics")
    assert result.code == 2
    assert result.err.strip() == (
        "error: hubspot_analytics: SOURCES__HUBSPOT__LOOKBACK_DAYS (or [sources.hubspot] lookback_days) takes a "
        "whole number, not 'three'."
    )


def test_a_vendor_stop_fails_the_source_with_its_words_and_keeps_the_rows(sandbox, warehouse, cli, monkeypatch) -> None:
    """A terminal vendor answer mid-run (sources/common/partial.py): the source is FAILED with the vendor's
    sentence and request id, what arrived is loaded and in the summary, and the other source still runs."""
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals"]')
    sandbox.set_faults("hubspot_leads:status=429,policy=DAILY,start=2")

    result = cli("run", "--sources", "hubspot_leads,hubspot_analytics")

    assert result.code == 1
    (error,) = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert error.startswith("error: hubspot_leads: ") and "DAILY" in error and "request id" in error
    assert error.endswith("rows that arrived before were loaded; the next run continues from there.")
    loaded = warehouse.count("hubspot_leads")
    assert loaded > 0 and "hubspot_leads      hubspot_leads" in result.out
    assert "hubspot_leads: FAILED" in result.out and "hubspot_analytics: ok" in result.out
    assert warehouse.count("hubspot_analytics_totals") == 10
