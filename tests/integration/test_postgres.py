"""`--destination postgres` on a real PostgreSQL server loads what DuckDB loads, row for row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg2
import pytest

# Two runs over one world, compared row for row: the moving clock would show each run a different one. Both
# runs load Humblytics too, whose 10 requests a second would double the test's time (not what it is about).
pytestmark = [pytest.mark.postgres, pytest.mark.sandbox_config(clock_step_ms=0, humblytics_rate_limit=None)]

TABLES = [
    "hubspot_analytics_totals",
    "hubspot_analytics_sources",
    "hubspot_leads",
    "hubspot_leads__lead_conversion_events",
    "hubspot_leads__lead_conversion_events__form_submission_values",
]
SKIP = {"_dlt_load_id", "_dlt_id", "_loaded_at"}


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, float | Decimal):
        return round(float(value), 9)
    return value


def _sorted(rows: list[tuple]) -> list[tuple]:
    """Rows normalized and sorted (repr-keyed: NULLs do not compare with values)."""
    return sorted((tuple(_norm(v) for v in row) for row in rows), key=repr)


def _postgres_rows(dsn: str, table: str, columns: list[str]) -> list[tuple]:
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(f"SELECT {', '.join(columns)} FROM marketing.{table}")
        return _sorted(cur.fetchall())


def test_postgres_equals_duckdb(sandbox, warehouse, cli, monkeypatch, postgres_dsn) -> None:
    monkeypatch.setenv("SOURCES__HUBSPOT__REPORTS", '["totals", "sources"]')
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)

    duck = cli("run")
    assert duck.code == 0, duck.err
    monkeypatch.setenv("DLT_DATA_DIR", str(warehouse.data_dir.parent / "dlt-postgres"))
    pg = cli("run", "--destination", "postgres")
    assert pg.code == 0, pg.err

    for table in TABLES:
        described = warehouse.query(f"DESCRIBE marketing.{table}")
        columns = sorted(row[0] for row in described if row[0] not in SKIP)
        duck_rows = _sorted(warehouse.query(f"SELECT {', '.join(columns)} FROM marketing.{table}"))
        assert duck_rows, table
        assert _postgres_rows(postgres_dsn, table, columns) == duck_rows, table
