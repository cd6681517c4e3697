"""Refreshing the views: what is absent, what is unmapped, what fails, and Postgres replacing changed views."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import psycopg2
import pytest

from pipelines.readers import DuckDBReader
from pipelines.reporting import refresh_views, unmapped_channels
from pipelines.reporting.inputs import INPUTS
from pipelines.reporting.settings import DEFAULT_CHANNEL_MAP
from pipelines.reporting.unmapped import unmapped_line

from .conftest import World


@pytest.fixture
def copy(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the world's warehouse, with the env pointing at it (refreshes here leave the world alone)."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(world.duckdb_path, path)
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(path))
    return path


def test_views_answer_when_sources_never_ran(world: World, copy: Path) -> None:
    with duckdb.connect(str(copy)) as con:
        for table, spec in INPUTS.items():
            if spec.source in ("humblytics", "attributionhub"):
                con.execute(f"DROP TABLE marketing.{table}")
        con.execute("ALTER TABLE marketing.hubspot_leads DROP COLUMN crm_details__status")
    result = refresh_views("duckdb")
    assert result.ok, result.notes
    assert result.absent == {
        "attributionhub": ["attributionhub_conversions", "attributionhub_insights__channels"],
        "humblytics": ["humblytics_traffic_breakdown", "humblytics_traffic_trends"],
    }
    (note,) = result.notes
    assert "not loaded yet, so NULL in the views: attributionhub (" in note
    assert "columns never sent, NULL in the views: hubspot_leads.crm_details__status" in note

    select = (
        "SELECT date, hubspot_visits, humblytics_pageviews, leads_created, conversions FROM reporting.daily_traffic"
    )
    with duckdb.connect(str(copy), read_only=True) as con:
        partial = sorted(con.execute(select).fetchall())
        channels = con.execute(
            "SELECT COUNT(*), COUNT(hubspot_visits), COUNT(humblytics_sessions), COUNT(attributionhub_sessions)"
            " FROM reporting.channel_daily"
        ).fetchone()
        statuses = con.execute("SELECT DISTINCT crm_status FROM reporting.leads_current").fetchall()
        freshness = dict(con.execute("SELECT source, rows_loaded FROM reporting.source_freshness").fetchall())
    full = sorted(world.query(select))
    assert [(d, v, lc) for d, v, _, lc, _ in partial] == [(d, v, lc) for d, v, _, lc, _ in full]
    assert all(p is None and c is None for _, _, p, _, c in partial)  # absent parts are NULL, not 0
    assert channels[0] == channels[1] > 0 and channels[2] == channels[3] == 0
    assert statuses == [(None,)]
    assert freshness["humblytics"] == 0 and freshness["hubspot_analytics"] > 0


def test_refresh_is_idempotent(world: World, copy: Path) -> None:
    before = sorted(world.query("SELECT * FROM reporting.channel_daily"))
    assert refresh_views("duckdb").ok
    assert refresh_views("duckdb").ok
    with duckdb.connect(str(copy), read_only=True) as con:
        assert sorted(con.execute("SELECT * FROM reporting.channel_daily").fetchall()) == before
        assert (
            con.execute("SELECT COUNT(*) FROM reporting.channel_map").fetchone()[0]
            == len([line for line in DEFAULT_CHANNEL_MAP.read_text().splitlines() if line and not line.startswith("#")])
            - 1
        )


def test_unmapped_values_count_as_other_and_are_listed(
    world: World, copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "channels.csv"
    text = DEFAULT_CHANNEL_MAP.read_text()
    rules.write_text(text.replace("humblytics,unknown,unknown,other\n", "").replace("*,email,*,email\n", ""))
    monkeypatch.setenv("MARKETING_ELT__CHANNEL_MAP", str(rules))
    assert refresh_views("duckdb").ok

    reader = DuckDBReader(copy, "marketing")
    try:
        unmapped = unmapped_channels(reader)
    finally:
        reader.close()
    assert [value.label for value in unmapped] == [
        "attributionhub email/newsletter",
        "humblytics email/newsletter",
        "humblytics unknown/unknown",
    ]
    line = unmapped_line(unmapped)
    assert line and "3 traffic value(s)" in line and "humblytics unknown/unknown" in line
    select = "SELECT channel, SUM(humblytics_sessions) FROM reporting.channel_daily GROUP BY channel"
    with duckdb.connect(str(copy), read_only=True) as con:
        after = dict(con.execute(select).fetchall())
    before = dict(world.query(select))
    assert after["email"] == 0 and before["email"] > 0
    assert after["other"] == before["other"] + before["email"]  # unmapped email moved to other; unknown stayed
    assert sum(after.values()) == sum(before.values())


def test_a_failed_refresh_is_a_note_not_a_failure(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETING_ELT__CHANNEL_MAP", "/nonexistent/channels.csv")
    result = refresh_views("duckdb")
    assert not result.ok
    assert result.notes == [
        "reporting views were not refreshed: The channel map /nonexistent/channels.csv cannot be read (No such "
        "file or directory): fix MARKETING_ELT__CHANNEL_MAP or the file. The load itself is complete."
    ]
    with pytest.raises(Exception, match="cannot be read"):
        refresh_views("duckdb", raise_errors=True)


@pytest.mark.postgres
def test_postgres_replaces_views_whose_columns_changed(
    world: World, postgres_world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source arriving turns a view's typed-NULL column into a real (varchar) one; Postgres refuses to
    replace a view with changed column types, so the refresh drops and recreates the views instead."""
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_world)
    monkeypatch.setenv("MARKETING_ELT__DATASET_NAME", "later")
    monkeypatch.setenv("MARKETING_ELT__REPORTING_DATASET", "later_reporting")
    hubspot = [t for t, spec in INPUTS.items() if spec.source.startswith("hubspot") or spec.source == "dlt"]
    others = [t for t in INPUTS if t not in hubspot]
    with psycopg2.connect(postgres_world) as con, con.cursor() as cur:
        cur.execute("CREATE SCHEMA later")
        for table in hubspot:
            cur.execute(f"CREATE TABLE later.{table} AS SELECT * FROM marketing.{table}")
    first = refresh_views("postgres", raise_errors=True)
    assert sorted(first.absent) == ["attributionhub", "humblytics"]
    with psycopg2.connect(postgres_world) as con, con.cursor() as cur:
        for table in others:
            cur.execute(f"CREATE TABLE later.{table} AS SELECT * FROM marketing.{table}")
    second = refresh_views("postgres", raise_errors=True)
    assert second.absent == {}
    with psycopg2.connect(postgres_world) as con, con.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(email) FROM later_reporting.conversions")
        later = cur.fetchone()
        cur.execute("SELECT COUNT(*), COUNT(email) FROM reporting.conversions")
        assert later == cur.fetchone()


def test_refresh_through_the_pipeline_that_just_loaded(world: World, copy: Path) -> None:
    """What the runner passes: the source's own dlt pipeline (its SQL client knows the warehouse)."""
    from pipelines.source_run import make_pipeline

    result = refresh_views(make_pipeline("hubspot_leads", "duckdb"))
    assert result.ok and not result.absent, result.notes
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM reporting.leads_current").fetchone()[0] > 0
