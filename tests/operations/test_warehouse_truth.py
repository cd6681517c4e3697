"""The warehouse is the truth for cursors; DLT_DATA_DIR is a cache (issue 14, first section).

Each scenario ends with the warehouse equal to what clean runs load: never a silent gap, never a duplicate.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from .conftest import HUBSPOT, NIGHT, TABLES, Project

SMALL = pytest.mark.sandbox_config(leads_per_day=3)
# Each scenario is compared with clean runs on the same sandbox at other moments: with the clock moving, leads
# edited between or during those runs would differ (the reliability suite compares after a still night too).
pytestmark = pytest.mark.sandbox_config(clock_step_ms=0)
LATER = NIGHT.add(days=2)


def first_load_at_later(reference: Project) -> dict[str, Any]:
    """What a clean first load two nights later holds: the same as nightly after nightly, because the days
    before the lookback were final when first read (the sandbox restates a day for 3 days) and leads merge."""
    reference.sandbox.set_today("2026-11-22")
    assert reference.run("run", "--sources", HUBSPOT, now=LATER).code == 0
    return reference.snapshot()


@SMALL
def test_a_deleted_warehouse_is_reloaded_by_every_source_in_any_order(project) -> None:
    """The reported bug: leads kept their cursor from DLT_DATA_DIR and loaded nothing, with exit 0. After each
    deletion the sources run in another order: whichever recreates the dataset first, both reload."""
    assert project.run("run", "--sources", HUBSPOT).code == 0
    clean = project.snapshot()
    for order in (HUBSPOT, "hubspot_leads,hubspot_analytics"):
        project.warehouse.unlink()

        again = project.run("run", "--sources", order)

        assert again.code == 0, again.err
        for source in ("hubspot_analytics", "hubspot_leads"):
            assert any(
                n.startswith(f"note: {source}: ") and "starting again from start_date" in n for n in again.notes
            ), again.out
        assert project.snapshot() == clean, order


@SMALL
def test_a_lost_data_dir_continues_from_the_warehouse_without_gap_or_duplicate(project, new_project) -> None:
    """An ephemeral runner: DLT_DATA_DIR is gone before the next night; the warehouse's state carries on."""
    project.sandbox.set_today("2026-11-20")
    assert project.run("run", "--sources", HUBSPOT).code == 0
    before = project.run("status", "--sources", HUBSPOT).out
    shutil.rmtree(project.data_dir)

    status = project.run("status", "--sources", HUBSPOT)
    assert status.code == 0, status.err
    assert status.out == before  # status reads the warehouse, never DLT_DATA_DIR
    assert "never run" not in status.out and "never loaded" not in status.out
    assert status.out.count("last nightly ok 2026-11-20T02:00:00+00:00") == 2, status.out

    project.sandbox.set_today("2026-11-22")
    project.sandbox.reset_stats()
    resumed = project.run("run", "--sources", HUBSPOT, now=LATER)
    assert resumed.code == 0, resumed.err
    assert sum("no local state in DLT_DATA_DIR; continuing from the warehouse's state" in n for n in resumed.notes) == 2
    # continued from the warehouse's cursor: the analytics nightly asked only for the lookback and the new days
    (analytics,) = project.vendor_requests("hubspot_analytics")
    assert analytics["query"]["start"] == ["20261117"]
    assert project.snapshot() == first_load_at_later(new_project("reference"))


@SMALL
def test_a_warehouse_restored_from_an_older_copy_takes_its_state_from_the_warehouse(project, new_project) -> None:
    reference = new_project("reference")
    project.sandbox.set_today("2026-11-20")
    assert project.run("run", "--sources", HUBSPOT).code == 0
    older = project.root / "older.duckdb"
    shutil.copy(project.warehouse, older)
    project.sandbox.set_today("2026-11-22")
    assert project.run("run", "--sources", HUBSPOT, now=LATER).code == 0
    shutil.copy(older, project.warehouse)  # the restore

    after_restore = project.run("run", "--sources", HUBSPOT, now=LATER)

    assert after_restore.code == 0, after_restore.err
    for source in ("hubspot_analytics", "hubspot_leads"):
        assert any(
            n.startswith(f"note: {source}: the warehouse does not hold this pipeline's last load")
            and "continuing from the warehouse's own state" in n
            for n in after_restore.notes
        ), after_restore.out
    assert project.snapshot() == first_load_at_later(reference)
    assert project.query("SELECT MAX(date) FROM marketing.hubspot_analytics_totals")[0][0].isoformat() == "2026-11-21"


@SMALL
def test_a_missing_table_restarts_its_resource_from_start_date(project) -> None:
    assert project.run("run", "--sources", HUBSPOT).code == 0
    clean = project.snapshot()
    import duckdb

    with duckdb.connect(str(project.warehouse)) as con:
        con.execute("DROP TABLE marketing.hubspot_leads")

    again = project.run("run", "--sources", HUBSPOT)

    assert again.code == 0, again.err
    assert any("the warehouse lacks hubspot_leads" in n and "starts again from start_date" in n for n in again.notes)
    assert project.snapshot() == clean


@SMALL
def test_an_earlier_start_date_says_the_cursor_wins_and_prints_the_backfill(project) -> None:
    assert project.run("run", "--sources", "hubspot_analytics").code == 0
    earlier = {"SOURCES__HUBSPOT__START_DATE": "2026-11-01"}

    second = project.run("run", "--sources", "hubspot_analytics", env=earlier)

    assert second.code == 0
    command = "marketing-elt backfill --start 2026-11-01 --end 2026-11-09 --sources hubspot_analytics"
    assert second.notes == [
        "note: hubspot_analytics: start_date 2026-11-01 is earlier than where it started loading (2026-11-10): "
        "the cursor wins, so the nightly does not go back; to load 2026-11-01 to 2026-11-09 run "
        f"`{command}`."
    ]
    assert project.query("SELECT MIN(date) FROM marketing.hubspot_analytics_totals")[0][0].isoformat() == "2026-11-10"
    assert project.run(*command.split()[1:], env=earlier).code == 0
    third = project.run("run", "--sources", "hubspot_analytics", env=earlier)
    assert third.code == 0 and third.notes == []  # the printed backfill was run: nothing more to say
    assert project.query("SELECT MIN(date) FROM marketing.hubspot_analytics_totals")[0][0].isoformat() == "2026-11-01"


@SMALL
@pytest.mark.postgres
def test_postgres_after_a_data_dir_that_loaded_duckdb_loads_everything(project, postgres_dsn) -> None:
    import psycopg2

    project.env["DESTINATION__POSTGRES__CREDENTIALS"] = postgres_dsn
    project.env["MARKETING_ELT__DATASET_NAME"] = "ops_switch"
    assert project.run("run", "--sources", HUBSPOT).code == 0
    duck = {table: project.count(table) for table in TABLES}

    switched = project.run("run", "--sources", HUBSPOT, "--destination", "postgres")

    assert switched.code == 0, switched.err
    assert sum("starting again from start_date" in n for n in switched.notes) == 2, switched.out
    with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
        for table in TABLES:
            cur.execute(f"SELECT COUNT(*) FROM ops_switch.{table}")
            assert cur.fetchone()[0] == duck[table], table
