"""`status` an operator and a monitor can use, and the run ledger it reads (issue 14)."""

from __future__ import annotations

import json

import pytest

from .conftest import HUBSPOT, NIGHT

SMALL = pytest.mark.sandbox_config(leads_per_day=3)


@SMALL
def test_status_shows_nightly_and_backfill_apart_cursor_rows_and_lag(project) -> None:
    assert project.run("run", "--sources", HUBSPOT).code == 0
    backfill_at = NIGHT.add(hours=3)
    assert (
        project.run(
            "backfill", "--start", "2026-11-01", "--end", "2026-11-05", "--sources", HUBSPOT, now=backfill_at
        ).code
        == 0
    )

    status = project.run("status", "--sources", HUBSPOT)

    assert status.code == 0, status.err
    lines = status.out.splitlines()
    assert lines[0] == (
        "hubspot_analytics: last nightly ok 2026-11-20T02:00:00+00:00; "
        "last backfill ok 2026-11-20T05:00:00+00:00 (2026-11-01 to 2026-11-05)"
    )
    assert "hubspot_analytics_totals  date    2026-11-19  1" in status.out
    assert "hubspot_analytics_totals  15    2026-11-01  2026-11-19" in status.out
    # the hard sandbox edits leads around the clock: the newest one of the night was edited before 02:00 today
    leads_cursor = "hubspot_leads  lastModifiedAt  2026-11-20T01:"
    assert any(line.startswith(leads_cursor) and line.endswith("  0") for line in lines), status.out

    data = json.loads(project.run("status", "--sources", HUBSPOT, "--json").out)
    analytics, leads = data["sources"]
    assert (
        analytics["last_nightly"]["outcome"] == "ok"
        and analytics["last_backfill"]["range"] == "2026-11-01 to 2026-11-05"
    )
    assert analytics["resources"] == [
        {
            "resource": "hubspot_analytics_totals",
            "cursor_field": "date",
            "cursor": "2026-11-19",
            "lag_days": 1,
            "tables": [{"table": "hubspot_analytics_totals", "rows": 15, "first": "2026-11-01", "last": "2026-11-19"}],
        }
    ]
    assert [t["table"] for t in leads["resources"][0]["tables"]] == [
        "hubspot_leads",
        "hubspot_leads__lead_conversion_events",
        "hubspot_leads__lead_conversion_events__form_submission_values",
    ]
    assert data["stale"] == [] and data["exit_code"] == 0


@SMALL
def test_max_lag_exits_1_when_a_resource_is_staler_from_the_flag_or_the_config(project) -> None:
    assert project.run("run", "--sources", HUBSPOT).code == 0
    assert project.run("status", "--sources", HUBSPOT, "--max-lag", "1").code == 0

    # three nights later: analytics' cursor is 11-19, the leads' 11-20 (a lead edited before the night's 02:00)
    later = NIGHT.add(days=3)
    stale = project.run("status", "--sources", HUBSPOT, "--max-lag", "2", now=later)
    assert stale.code == 1
    assert stale.err.strip() == (
        "stale: 2 resource(s) lag more than 2 days behind 2026-11-23: hubspot_analytics_totals (4 days), "
        "hubspot_leads (3 days)."
    )
    configured = project.run(
        "status", "--json", "--sources", HUBSPOT, now=later, env={"MARKETING_ELT__MAX_LAG_DAYS": "2"}
    )
    assert configured.code == 1
    assert json.loads(configured.out)["stale"] == [
        {"source": "hubspot_analytics", "resource": "hubspot_analytics_totals", "lag_days": 4},
        {"source": "hubspot_leads", "resource": "hubspot_leads", "lag_days": 3},
    ]
    bad = project.run("status", "--max-lag", "two")
    assert (
        bad.code == 2 and bad.err.strip() == "error: --max-lag must be a whole number of days (0 or more), got 'two'."
    )


def test_status_with_nothing_anywhere_is_one_line_and_creates_nothing(project) -> None:
    status = project.run("status")
    assert status.code == 0
    assert (
        status.out.strip()
        == f"never run: there is no warehouse at {project.warehouse} yet, so nothing has been loaded."
    )
    assert not project.warehouse.exists() and not project.data_dir.exists()
    monitored = project.run("status", "--max-lag", "1")
    assert monitored.code == 1 and "never loaded" in monitored.err  # a monitor alerts on an empty warehouse
    assert not project.warehouse.exists()
    assert project.sandbox.request_log == []


@SMALL
def test_status_after_a_first_run_that_failed_names_the_failure(project) -> None:
    project.env["SOURCES__HUBSPOT__ACCESS_TOKEN"] = "revoked-token"
    failed = project.run("run", "--sources", "hubspot_leads")
    assert failed.code == 1

    status = project.run("status", "--sources", "hubspot_leads")

    assert status.code == 0, status.err
    assert status.out.strip().startswith(
        "hubspot_leads: never loaded into this warehouse; last run FAILED at 2026-11-20T02:00:00+00:00: "
        "hubspot_leads: hubspot rejected"
    )
    assert len(status.out.strip().splitlines()) == 1
    assert "revoked-token" not in status.out + failed.out + failed.err


@pytest.mark.postgres
def test_status_with_postgres_down_is_one_line(project) -> None:
    project.env["DESTINATION__POSTGRES__CREDENTIALS"] = "postgresql://loader:s3cret@127.0.0.1:1/warehouse"
    status = project.run("status", "--destination", "postgres")
    assert status.code == 3
    assert status.err.strip() == (
        'error: Cannot connect to Postgres at 127.0.0.1:1/warehouse (connection to server at "127.0.0.1", port 1 '
        "failed: Connection refused): start the server or fix DESTINATION__POSTGRES__CREDENTIALS."
    )
    run = project.run("run", "--sources", HUBSPOT, "--destination", "postgres")
    assert run.code == 2 and run.err.strip() == status.err.strip()
    assert project.sandbox.request_log == [] and "s3cret" not in status.err + run.err


@SMALL
def test_the_ledger_has_a_row_per_run_and_source(project) -> None:
    assert project.run("run", "--sources", HUBSPOT).code == 0
    project.env["SOURCES__HUBSPOT__ACCESS_TOKEN"] = "revoked-token"
    assert (
        project.run("backfill", "--start", "2026-11-01", "--end", "2026-11-02", "--sources", "hubspot_leads").code == 1
    )

    rows = project.ledger()

    assert [(r["source"], r["kind"], r["outcome"]) for r in rows] == [
        ("hubspot_analytics", "nightly", "ok"),
        ("hubspot_leads", "nightly", "ok"),
        ("hubspot_leads", "backfill", "failed"),
    ]
    nightly, failed = rows[1], rows[2]
    assert nightly["command"] == f"marketing-elt run --sources {HUBSPOT}"
    assert nightly["started_at"].isoformat() == "2026-11-20T02:00:00+00:00"
    assert (
        json.loads(nightly["rows"])["hubspot_leads"]
        == project.count("hubspot_leads")
        == nightly["rows_total"] - sum(v for k, v in json.loads(nightly["rows"]).items() if k != "hubspot_leads")
    )
    assert nightly["requests"] >= 1 and nightly["retries"] == 0 and nightly["window_splits"] == 0
    assert nightly["error"] is None and nightly["destination"] == "duckdb"
    assert (failed["backfill_start"].isoformat(), failed["backfill_end"].isoformat()) == ("2026-11-01", "2026-11-02")
    assert failed["error"].startswith("hubspot_leads: hubspot rejected the credentials (401)")
    assert "revoked-token" not in json.dumps(rows, default=str)
