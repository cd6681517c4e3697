"""The views on a real PostgreSQL server answer what they answer on DuckDB, row for row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg2
import pytest

from pipelines.reporting.settings import VIEWS

from .conftest import World

pytestmark = pytest.mark.postgres

# The moment each warehouse finished its own load differs, by design.
SKIP = {"source_freshness": {"last_loaded_at"}}


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, float | Decimal):
        return round(float(value), 9)
    return value


def _sorted(rows: list[tuple]) -> list[tuple]:
    return sorted((tuple(_norm(v) for v in row) for row in rows), key=repr)


@pytest.mark.parametrize("view", VIEWS)
def test_view_equals_duckdb(world: World, postgres_world: str, view: str) -> None:
    columns = [c for c in world.columns(f"reporting.{view}") if c not in SKIP.get(view, set())]
    select = f"SELECT {', '.join(columns)} FROM reporting.{view}"
    duck = _sorted(world.query(select))
    assert duck, view
    with psycopg2.connect(postgres_world) as con, con.cursor() as cur:
        cur.execute(select)
        pg_columns = [d[0] for d in cur.description]
        pg = _sorted(cur.fetchall())
    assert pg_columns == columns
    assert pg == duck


def test_channel_map_equals_the_file(world: World, postgres_world: str) -> None:
    from pipelines.reporting.channels import load_rules
    from pipelines.reporting.settings import DEFAULT_CHANNEL_MAP

    rules = sorted(rule.row() for rule in load_rules(DEFAULT_CHANNEL_MAP))
    with psycopg2.connect(postgres_world) as con, con.cursor() as cur:
        cur.execute("SELECT source_system, medium, source, channel FROM reporting.channel_map")
        assert sorted(cur.fetchall()) == rules
    assert sorted(world.query("SELECT * FROM reporting.channel_map")) == rules


def test_readme_queries_run_on_postgres(postgres_world: str) -> None:
    from .conftest import readme_queries

    with psycopg2.connect(postgres_world) as con, con.cursor() as cur:
        for sqls in readme_queries().values():
            for sql in sqls:
                cur.execute(sql)
                cur.fetchall()


def test_report_reads_postgres(world: World, postgres_world: str, tmp_path, monkeypatch, capsys) -> None:
    from pipelines.cli import main

    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_world)
    out = tmp_path / "report.html"
    assert main(["report", "--destination", "postgres", "--out", str(out)]) == 0, capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    assert "Postgres at 127.0.0.1" in page and 'id="chart-channels"' in page and "<td>humblytics</td>" in page
