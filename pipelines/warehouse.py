"""Where the data goes: destination factories, the DuckDB file, the dataset name, file formats."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dlt
import pyarrow.parquet as pq
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.destination.client import LoadJob
from dlt.common.schema.typing import C_DLT_ID
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.destinations.impl.duckdb.duck import DuckDbClient, DuckDbCopyJob

from sources.common.errors import ConfigError

DEFAULT_DUCKDB_FILE = "warehouse.duckdb"
DEFAULT_DATASET = "marketing"

# dlt's default for DuckDB (insert_values) is ~1-3% of native speed on our payloads; parquet is the fast
# path (../shared/performance-notes.md). Postgres cannot load parquet, and dlt's COPY-based csv loads
# every empty string into a nullable column as NULL (FORCE_NULL), which would make Postgres differ from
# DuckDB (tests/integration/test_postgres.py); insert_values keeps the values as sent.
LOADER_FILE_FORMAT = {"duckdb": "parquet", "postgres": "insert_values", "bigquery": "parquet"}


# Memory defaults (README "Performance"): DuckDB keeps what it loads in its buffer pool up to `memory_limit`,
# by default 80% of the machine's RAM (a 100,000-lead load peaked at 1,083 MB). 192MB keeps a 1,000,000-lead
# first load at 458 MB peak (256MB: 501 MB, issue 19's bound is 500), for a merge that spills a little more
# (~2.5 s on a 100,000-lead reload, measured before the append). Without insertion order DuckDB may reorder inserted
# rows, which needs less memory and lets it insert in parallel; nothing here relies on the order of rows.
DUCKDB_GLOBAL_CONFIG: dict[str, Any] = {"memory_limit": "192MB", "preserve_insertion_order": False}
GLOBAL_CONFIG_KEY = "destination.duckdb.credentials.global_config"
# dlt's load jobs one at a time: on 2 cores parallel jobs only competed (no faster, ~40 MB more peak).
LOAD_WORKERS_KEY, LOAD_WORKERS = "load.workers", 1


def duckdb_global_config() -> dict[str, Any]:
    """`DUCKDB_GLOBAL_CONFIG` under the user's own `[destination.duckdb.credentials.global_config]` (or its env
    var, a JSON object): a key the user sets wins, the others keep the project's defaults."""
    try:
        configured: Any = dlt.config.get(GLOBAL_CONFIG_KEY, dict)
    except ConfigValueCannotBeCoercedException:
        raise ConfigError(
            "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG must be a JSON object of DuckDB settings, "
            'e.g. \'{"memory_limit": "512MB"}\'.'
        ) from None
    return {**DUCKDB_GLOBAL_CONFIG, **(configured or {})}


def apply_load_defaults() -> None:
    """dlt's `[load] workers` = `LOAD_WORKERS` unless the user configured it (config.toml or LOAD__WORKERS).
    dlt reads it when a load starts, from its config providers: the env var is how a default gets there."""
    if dlt.config.get(LOAD_WORKERS_KEY) is None:
        os.environ["LOAD__WORKERS"] = str(LOAD_WORKERS)


class OnceCopyJob(DuckDbCopyJob):
    """Appends a parquet file at most once, so an append is exactly-once across a kill.

    dlt records a load job as done only after DuckDB committed it; killed in between, the next run loads the
    file again. The file's INSERT is one statement (all of its rows or none), and every row carries a unique
    `_dlt_id`: when the table already holds the file's first `_dlt_id`, the file is in, and it is skipped.
    """

    def run(self) -> None:
        if not self._committed_before():
            super().run()

    def _committed_before(self) -> bool:
        if C_DLT_ID not in pq.read_schema(self._file_path).names:
            return False  # no ids (add_dlt_id = false): cannot tell, load as dlt does
        first = pq.ParquetFile(self._file_path).read_row_group(0, columns=[C_DLT_ID]).column(0)[0].as_py()
        table = self._job_client.sql_client.make_qualified_table_name(self.load_table_name)
        found = self._job_client.sql_client.execute_sql(f"SELECT 1 FROM {table} WHERE {C_DLT_ID} = ? LIMIT 1", first)
        return bool(found)


class OnceDuckDbClient(DuckDbClient):
    """dlt's DuckDB client with appends of parquet files made exactly-once (`OnceCopyJob`)."""

    def create_load_job(self, table: Any, file_path: str, load_id: str, restore: bool = False) -> LoadJob:
        job = super().create_load_job(table, file_path, load_id, restore)
        if type(job) is DuckDbCopyJob and table["write_disposition"] == "append" and file_path.endswith(".parquet"):
            return OnceCopyJob(file_path)
        return job


class DuckDbExactlyOnce(dlt.destinations.duckdb):
    """dlt's DuckDB destination whose parquet appends survive a kill between commit and bookkeeping without a
    duplicate. Sources may append where a merge would only deduplicate (the Leads first load: EXACTLY_ONCE_APPEND);
    its type stays dlt's DuckDB, so pipelines, state and `dlt.attach` see the destination they always saw."""

    EXACTLY_ONCE_APPEND = True

    @property
    def client_class(self) -> type[DuckDbClient]:
        return OnceDuckDbClient

    @property
    def destination_type(self) -> str:
        return "dlt.destinations.duckdb"


def duckdb_destination(path: Path | str) -> Any:
    """The DuckDB destination for the file at `path`: exactly-once appends, the project's memory defaults."""
    apply_load_defaults()
    return DuckDbExactlyOnce(credentials=DuckDbCredentials(str(path), global_config=duckdb_global_config()))


def duckdb_path() -> Path:
    """`DESTINATION__DUCKDB__CREDENTIALS` or `[destination.duckdb] credentials`, made absolute against cwd."""
    configured: Any = dlt.config.get("destination.duckdb.credentials")
    if isinstance(configured, dict):  # the table form, `[destination.duckdb.credentials] database = ...`
        configured = configured.get("database")
    path = Path(str(configured) if configured else DEFAULT_DUCKDB_FILE).expanduser()
    return path if path.is_absolute() else Path(os.getcwd()) / path


def dataset_name() -> str:
    return str(dlt.config.get("marketing_elt.dataset_name") or DEFAULT_DATASET)


def make_destination(name: str) -> Any:
    if name == "duckdb":
        return duckdb_destination(duckdb_path())
    apply_load_defaults()
    return name  # postgres / bigquery: dlt resolves credentials from [destination.<name>] and env vars


def pipeline_name(source: str) -> str:
    return f"marketing_elt_{source}"
