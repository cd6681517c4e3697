"""The run ledger: `_marketing_elt_runs` in the warehouse, one row per run and source.

It lives beside the data, so it survives a lost DLT_DATA_DIR and says what the warehouse itself went
through: `status` reads the last successful nightly and backfill from it, and an operator can query it.
Written through the source pipeline's own SQL client, once per source when that source ends; writes are
serialized with a lock so sources run in threads cannot interleave them.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import dlt
import pendulum

from .failures import one_line
from .readers import Reader, plain

log = logging.getLogger("marketing_elt")

TABLE = "_marketing_elt_runs"
NIGHTLY, BACKFILL = "nightly", "backfill"
OK, FAILED, INTERRUPTED = "ok", "failed", "interrupted"

# (column, portable type); the DDL below maps the type per destination.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "text"),
    ("source", "text"),
    ("kind", "text"),
    ("command", "text"),
    ("backfill_start", "date"),
    ("backfill_end", "date"),
    ("destination", "text"),
    ("started_at", "timestamp"),
    ("finished_at", "timestamp"),
    ("outcome", "text"),
    ("rows_total", "bigint"),
    ("rows", "text"),
    ("requests", "bigint"),
    ("retries", "bigint"),
    ("window_splits", "bigint"),
    ("notes", "text"),
    ("error", "text"),
    ("host", "text"),
    ("pid", "bigint"),
)
SQL_TYPES = {
    "duckdb": {"text": "VARCHAR", "bigint": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE"},
    "postgres": {"text": "TEXT", "bigint": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE"},
    "bigquery": {"text": "STRING", "bigint": "INT64", "date": "DATE", "timestamp": "TIMESTAMP"},
}

_write_lock = threading.Lock()


@dataclass
class Entry:
    """One source's part of one run."""

    run_id: str
    source: str
    kind: str
    command: str
    destination: str
    started_at: pendulum.DateTime
    finished_at: pendulum.DateTime
    outcome: str
    backfill_start: pendulum.Date | None = None
    backfill_end: pendulum.Date | None = None
    rows: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    window_splits: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    host: str = ""
    pid: int = 0

    def values(self) -> list[Any]:
        row = {
            **{name: getattr(self, name, None) for name, _ in COLUMNS},
            "rows_total": sum(self.rows.values()),
            "rows": json.dumps(self.rows, sort_keys=True),
            "notes": json.dumps(self.notes),
        }
        return [plain(row[name]) for name, _ in COLUMNS]


def record(pipeline: dlt.Pipeline, destination: str, entry: Entry) -> bool:
    """Append `entry` to the ledger of `pipeline`'s dataset; a failure is logged, never raised (the run's
    own outcome matters more than its record)."""
    types = SQL_TYPES.get(destination, SQL_TYPES["postgres"])
    try:
        with _write_lock, pipeline.sql_client() as client:
            if not client.has_dataset():
                client.create_dataset()
            table = client.make_qualified_table_name(TABLE)
            columns = ", ".join(f"{name} {types[kind]}" for name, kind in COLUMNS)
            client.execute_sql(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            names = ", ".join(name for name, _ in COLUMNS)
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            client.execute_sql(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", *entry.values())
    except Exception as exc:  # the warehouse may be the reason the run failed
        log.debug("could not write the run ledger", exc_info=True)
        log.warning("%s: the run could not be recorded in %s: %s", entry.source, TABLE, one_line(str(exc), 200))
        return False
    return True


# --- reading (status, and the run's start_date check) -------------------------------------------------


@dataclass(frozen=True)
class LedgerRun:
    kind: str
    outcome: str
    started_at: Any
    finished_at: Any
    command: str
    backfill_start: Any
    backfill_end: Any
    rows_total: int
    error: str | None


_READ_COLUMNS = "kind, outcome, started_at, finished_at, command, backfill_start, backfill_end, rows_total, error"


def last_runs(reader: Reader, source: str) -> dict[str, LedgerRun]:
    """The latest run of `source` ("last"), its latest successful nightly ("nightly") and backfill ("backfill").

    Raises readers.Missing when the ledger does not exist yet.
    """
    out: dict[str, LedgerRun] = {}
    base = f"SELECT {_READ_COLUMNS} FROM {reader.qualify(TABLE)} WHERE source = %s"
    order = " ORDER BY finished_at DESC LIMIT 1"
    for key, sql, params in (
        ("last", base + order, (source,)),
        (NIGHTLY, base + " AND kind = %s AND outcome = %s" + order, (source, NIGHTLY, OK)),
        (BACKFILL, base + " AND kind = %s AND outcome = %s" + order, (source, BACKFILL, OK)),
    ):
        rows = reader.query(sql, *params)
        if rows:
            out[key] = LedgerRun(*rows[0][:9])
    return out


def backfilled(reader: Reader, source: str, first: pendulum.Date, last: pendulum.Date) -> bool:
    """Whether one successful backfill of `source` covered `first`..`last` (raises readers.Missing without a ledger)."""
    sql = (
        f"SELECT COUNT(*) FROM {reader.qualify(TABLE)} WHERE source = %s AND kind = %s AND outcome = %s "
        "AND backfill_start <= %s AND backfill_end >= %s"
    )
    rows = reader.query(sql, source, BACKFILL, OK, first, last)
    return bool(rows and rows[0][0])
