"""`--destination postgres` loads the AttributionHub tables exactly as DuckDB does, row for row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg2
import pytest

# Two runs over one world, compared row for row: the moving clock would show each run a different one. Both
# runs load Humblytics too, whose 10 requests a second would double the test's time (not what it is about).
pytestmark = [pytest.mark.postgres, pytest.mark.sandbox_config(clock_step_ms=0, humblytics_rate_limit=None)]
# Its own schema: the session's server also holds what other tests' `run` of every source loaded.
DATASET = "attributionhub_parity"

TABLES = ["attributionhub_conversions", "attributionhub_insights", "attributionhub_insights__channels"]
# dlt's own ids are random per load; the channel rows are compared by their natural key columns instead.
SKIP = {"_dlt_load_id", "_dlt_id", "_dlt_root_id", "_dlt_parent_id", "_loaded_at"}


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, float | Decimal):
        return round(float(value), 9)
    return value


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows normalized and sorted (repr-keyed: NULLs do not compare with values)."""
    return sorted((tuple(_norm(v) for v in row) for row in rows), key=repr)


def test_postgres_equals_duckdb_for_attributionhub(sandbox, warehouse, cli, monkeypatch, postgres_dsn) -> None:
    # A month end inside the range (an October snapshot), two segments, and conversions without an email.
    monkeypatch.setenv("SOURCES__ATTRIBUTIONHUB__START_DATE", "2026-10-28")
    monkeypatch.setenv("SOURCES__ATTRIBUTIONHUB__SEGMENTS", '[{"name": "all"}, {"name": "paid", "medium": "cpc"}]')
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    monkeypatch.setenv("MARKETING_ELT__DATASET_NAME", DATASET)

    duck = cli("run", "--sources", "attributionhub")
    assert duck.code == 0, duck.err
    monkeypatch.setenv("DLT_DATA_DIR", str(warehouse.data_dir.parent / "dlt-postgres-attributionhub"))
    pg = cli("run", "--sources", "attributionhub", "--destination", "postgres")
    assert pg.code == 0, pg.err

    for table in TABLES:
        described = warehouse.query(f"DESCRIBE {DATASET}.{table}")
        columns = sorted(row[0] for row in described if row[0] not in SKIP)
        duck_rows = _sorted(warehouse.query(f"SELECT {', '.join(columns)} FROM {DATASET}.{table}"))
        assert duck_rows, table
        quoted = ", ".join(f'"{c}"' for c in columns)  # `timestamp` is a keyword
        with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
            cur.execute(f"SELECT {quoted} FROM {DATASET}.{table}")
            assert _sorted(cur.fetchall()) == duck_rows, table
    # the Postgres column types are the DuckDB ones: aware timestamps, dates, doubles for percentages
    with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
        cur.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = %s"
            " AND column_name IN ('timestamp', 'date', 'window_end', 'conversion_rate_pct')",
            (DATASET,),
        )
        types = {(t, c): d for t, c, d in cur.fetchall()}
    assert types[("attributionhub_conversions", "timestamp")] == "timestamp with time zone"
    assert types[("attributionhub_conversions", "date")] == "date"
    assert types[("attributionhub_insights", "window_end")] == "date"
    assert types[("attributionhub_insights__channels", "conversion_rate_pct")] == "double precision"
