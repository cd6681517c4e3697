"""`marketing-elt publish`: a read-only copy BI tools can hold open while the nightly writes the warehouse."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.reporting import publish_after_run, publish_if_configured

from .conftest import World

HOLD = "import duckdb, sys\ncon = duckdb.connect(sys.argv[1])\nprint('holding', flush=True)\nsys.stdin.readline()\n"


@pytest.fixture
def env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    return world


def test_publish_copies_tables_and_views_read_only(env: World, tmp_path: Path, capsys) -> None:
    target = tmp_path / "bi" / "warehouse-bi.duckdb"
    target.parent.mkdir()
    assert main(["publish", "--to", str(target)]) == 0
    assert "published a read-only copy for BI tools at" in capsys.readouterr().out
    assert stat.S_IMODE(target.stat().st_mode) == 0o444
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left behind
    with duckdb.connect(str(target), read_only=True) as con:
        for relation in ("reporting.daily_traffic", "reporting.leads_current", "marketing.hubspot_leads"):
            count = con.execute(f"SELECT COUNT(*) FROM {relation}").fetchone()[0]
            assert count == env.query(f"SELECT COUNT(*) FROM {relation}")[0][0] > 0, relation


def test_a_reader_holding_the_copy_blocks_neither_the_warehouse_nor_the_next_publish(
    env: World, tmp_path: Path
) -> None:
    target = tmp_path / "warehouse-bi.duckdb"
    assert main(["publish", "--to", str(target)]) == 0
    with duckdb.connect(str(target), read_only=True) as bi_tool:  # a BI tool keeps the copy open
        before = bi_tool.execute("SELECT COUNT(*) FROM reporting.conversions").fetchone()
        with duckdb.connect(str(env.duckdb_path)) as nightly:  # the warehouse can still be written
            nightly.execute("CREATE TABLE marketing.written_while_bi_reads AS SELECT 1 AS x")
        assert main(["publish", "--to", str(target)]) == 0  # and published again over the open copy
        assert bi_tool.execute("SELECT COUNT(*) FROM reporting.conversions").fetchone() == before
    with duckdb.connect(str(target), read_only=True) as reconnected:  # reconnecting sees the new copy
        assert reconnected.execute("SELECT x FROM marketing.written_while_bi_reads").fetchone() == (1,)
    with duckdb.connect(str(env.duckdb_path)) as con:
        con.execute("DROP TABLE marketing.written_while_bi_reads")


def test_publish_after_a_run_only_when_configured(env: World, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MARKETING_ELT__PUBLISH_PATH", raising=False)
    assert publish_if_configured("duckdb") is None
    monkeypatch.setenv("MARKETING_ELT__PUBLISH_PATH", str(tmp_path / "bi.duckdb"))
    assert publish_if_configured("postgres") is None
    result = publish_if_configured("duckdb")
    assert result is not None and result.path == tmp_path / "bi.duckdb" and result.bytes > 0
    (published,) = publish_after_run("duckdb")
    assert published.startswith("published a read-only copy for BI tools at")
    monkeypatch.setenv("MARKETING_ELT__PUBLISH_PATH", str(tmp_path / "missing-dir" / "bi.duckdb"))
    (note,) = publish_after_run("duckdb")
    assert note.startswith("the BI copy was not published:") and "does not exist" in note


def test_publish_refuses_a_writer_and_bad_targets(env: World, tmp_path: Path, capsys) -> None:
    # another process writes the warehouse (a load, or a BI tool opened it read-write)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(env.duckdb_path)], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        assert main(["publish", "--to", str(tmp_path / "bi.duckdb")]) == 2
    finally:
        holder.communicate("done\n", timeout=30)
    assert "is being written by" in capsys.readouterr().err
    assert not (tmp_path / "bi.duckdb").exists()
    assert main(["publish", "--to", str(env.duckdb_path)]) == 2
    assert "is the warehouse itself" in capsys.readouterr().err
    assert main(["publish"]) == 2
    assert "MARKETING_ELT__PUBLISH_PATH" in capsys.readouterr().err
