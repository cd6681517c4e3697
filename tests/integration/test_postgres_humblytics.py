"""`--destination postgres` loads the six Humblytics tables as DuckDB does, row for row, on a real server."""

from __future__ import annotations

import psycopg2
import pytest

from sources.humblytics import settings
from tests.integration.test_postgres import SKIP, _sorted

# Two runs over one world, compared row for row: the moving clock would show each run a different one.
# ...and Humblytics' 10 requests a second would double the test's time (not what it is about).
pytestmark = [pytest.mark.postgres, pytest.mark.sandbox_config(clock_step_ms=0, humblytics_rate_limit=None)]
# Its own schema: the session's server also holds what other tests' `run` of every source loaded.
DATASET = "humblytics_parity"

TABLES = [
    settings.TRENDS_TABLE,
    settings.TRAFFIC_BREAKDOWN_TABLE,
    settings.CLICKS_BREAKDOWN_TABLE,
    settings.CLICKS_DETAILS_TABLE,
    settings.FORMS_BREAKDOWN_TABLE,
    settings.FORMS_DETAILS_TABLE,
]


def test_postgres_equals_duckdb_for_humblytics(sandbox, warehouse, cli, monkeypatch, postgres_dsn) -> None:
    # A New York property over the fall-back day: local days and instants must survive both loaders.
    monkeypatch.setenv("SOURCES__HUMBLYTICS__START_DATE", "2026-10-30")
    monkeypatch.setenv("SOURCES__HUMBLYTICS__TIMEZONE", "America/New_York")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    monkeypatch.setenv("MARKETING_ELT__DATASET_NAME", DATASET)

    duck = cli("run", "--sources", "humblytics")
    assert duck.code == 0, duck.err
    monkeypatch.setenv("DLT_DATA_DIR", str(warehouse.data_dir.parent / "dlt-postgres-humblytics"))
    pg = cli("run", "--sources", "humblytics", "--destination", "postgres")
    assert pg.code == 0, pg.err

    for table in TABLES:
        described = warehouse.query(f"DESCRIBE {DATASET}.{table}")
        columns = sorted(row[0] for row in described if row[0] not in SKIP)
        select = f"SELECT {', '.join(columns)} FROM {DATASET}.{table}"
        duck_rows = _sorted(warehouse.query(select))
        assert duck_rows, table
        with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
            cur.execute(select)
            assert _sorted(cur.fetchall()) == duck_rows, table
