"""Where the data goes: destination factories, the DuckDB file, the dataset name, file formats."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dlt

DEFAULT_DUCKDB_FILE = "warehouse.duckdb"
DEFAULT_DATASET = "marketing"

# dlt's default for DuckDB (insert_values) is ~1-3% of native speed on our payloads; parquet is the fast
# path (../shared/performance-notes.md). Postgres cannot load parquet, and dlt's COPY-based csv loads
# every empty string into a nullable column as NULL (FORCE_NULL), which would make Postgres differ from
# DuckDB (tests/integration/test_postgres.py); insert_values keeps the values as sent.
LOADER_FILE_FORMAT = {"duckdb": "parquet", "postgres": "insert_values", "bigquery": "parquet"}


def duckdb_path() -> Path:
    """`DESTINATION__DUCKDB__CREDENTIALS` or `[destination.duckdb] credentials`, made absolute against cwd."""
    configured: Any = dlt.config.get("destination.duckdb.credentials")
    path = Path(str(configured) if configured else DEFAULT_DUCKDB_FILE).expanduser()
    return path if path.is_absolute() else Path(os.getcwd()) / path


def dataset_name() -> str:
    return str(dlt.config.get("marketing_elt.dataset_name") or DEFAULT_DATASET)


def make_destination(name: str) -> Any:
    if name == "duckdb":
        return dlt.destinations.duckdb(credentials=str(duckdb_path()))
    return name  # postgres / bigquery: dlt resolves credentials from [destination.<name>] and env vars


def pipeline_name(source: str) -> str:
    return f"marketing_elt_{source}"
