"""Cursors never ahead of the data: what a pipeline's state claims, checked against what the warehouse holds.

A killed run must not leave a cursor that the next night would trust beyond the data: the next run starts
from the cursor, so a cursor past the data is a silent gap. Two states make claims (pipelines/sync.py):
- the warehouse's stored state (what dlt restores: the newest `_dlt_pipeline_state` row of a completed load,
  read by `pipelines.state.stored_state`): every cursor must be reached by rows of completed loads;
- the local state in DLT_DATA_DIR (`state.json`, decoded as dlt decodes it): every cursor must be reached by
  rows of completed loads, or by a pending load package the next run finishes first (`sync.finish_pending`).

"Reached" means the resource's table (its name) holds a cursor value at or past the claim, in the cursor's own
unit: days for date cursors, epoch milliseconds for instants (Leads v1). Rows a killed load wrote without
completing (their `_dlt_load_id` is not a completed load in `_dlt_loads`) do not count.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from dlt.common.json import json
from dlt.common.versioned_state import json_decode_state
from dlt.pipeline.state_sync import migrate_state_to_current

from pipelines.readers import DuckDBReader, Missing
from pipelines.state import Cursor, cursors, stored_state
from pipelines.warehouse import pipeline_name
from sources.common.epoch import EPOCH_MS_FLOOR, instant_to_epoch_ms
from sources.common.naming import snake_case

DATASET = "marketing"
# Packages the next run loads. Not `load/new`: a package there is a normalize in progress (renamed to
# `load/normalized` when whole), its extracted copy is still in `normalize/extracted`, and dlt deletes it and
# normalizes again on the next run; killed mid-write it holds empty files (a parquet of 0 bytes, seen in CI).
PENDING_FOLDERS = ("normalize/extracted", "load/normalized")
JOB_FOLDERS = ("new_jobs", "started_jobs", "completed_jobs")


@dataclass(frozen=True)
class Claim:
    """One cursor a state holds, and how far the data behind it reaches (None: no row at all)."""

    source: str
    where: str  # "warehouse" or "DLT_DATA_DIR"
    cursor: Cursor
    reached: Any

    @property
    def ahead(self) -> bool:
        claimed = _point(self.cursor.last_value, like=self.cursor.last_value)
        return claimed is not None and (self.reached is None or claimed > self.reached)

    def __str__(self) -> str:
        return (
            f"{self.source} ({self.where}): {self.cursor.resource}.{self.cursor.path} claims "
            f"{self.cursor.last_value!r}, the data reaches {self.reached!r}"
        )


def local_state(data_dir: Path, source: str) -> dict[str, Any] | None:
    """The pipeline state in DLT_DATA_DIR, decoded and migrated as dlt's `Pipeline._get_state` does."""
    path = data_dir / "pipelines" / pipeline_name(source) / "state.json"
    if not path.exists():
        return None
    state: dict[str, Any] = migrate_state_to_current(pipeline_name(source), json_decode_state(path.read_text()))
    return state


def claims(db: Path, data_dir: Path, source: str) -> list[Claim]:
    """Every cursor the warehouse's and the local state of `source` hold, with how far the data reaches."""
    out: list[Claim] = []
    if not db.exists():
        return [Claim(source, "DLT_DATA_DIR", c, None) for c in cursors(local_state(data_dir, source), source)]
    reader = DuckDBReader(db, DATASET)
    try:
        stored = stored_state(reader, pipeline_name(source))
        for cursor in cursors(stored.state if stored else None, source):
            out.append(Claim(source, "warehouse", cursor, committed_reach(reader, cursor)))
        for cursor in cursors(local_state(data_dir, source), source):
            committed = committed_reach(reader, cursor)
            pending = pending_reach(data_dir, source, cursor)
            reached = max((v for v in (committed, pending) if v is not None), default=None)
            out.append(Claim(source, "DLT_DATA_DIR", cursor, reached))
    finally:
        reader.close()
    return out


def ahead_of_the_data(db: Path, data_dir: Path, sources: Iterable[str]) -> list[str]:
    """The claims, in words, that no completed or pending data backs (empty when every cursor is backed)."""
    return [str(claim) for source in sources for claim in claims(db, data_dir, source) if claim.ahead]


def committed_reach(reader: DuckDBReader, cursor: Cursor) -> Any:
    """The furthest cursor value among the rows of completed loads in the resource's table."""
    column = snake_case(cursor.path)
    sql = (
        f'SELECT MAX("{column}") FROM {reader.qualify(cursor.resource)} WHERE _dlt_load_id IN '
        f"(SELECT load_id FROM {reader.qualify('_dlt_loads')} WHERE status = 0)"
    )
    try:
        rows = reader.query(sql)
    except Missing:
        return None
    return _point(rows[0][0], like=cursor.last_value) if rows else None


def pending_reach(data_dir: Path, source: str, cursor: Cursor) -> Any:
    """The furthest cursor value in the resource's job files of pending packages (what the next run loads)."""
    names = {cursor.path, snake_case(cursor.path)}
    points = [
        _point(value, like=cursor.last_value)
        for path in _job_files(data_dir, source, cursor.resource)
        for value in _values(path, names)
    ]
    return max((p for p in points if p is not None), default=None)


def _job_files(data_dir: Path, source: str, table: str) -> Iterator[Path]:
    root = data_dir / "pipelines" / pipeline_name(source)
    for folder in PENDING_FOLDERS:
        for package in sorted((root / folder).glob("*")):
            for jobs in JOB_FOLDERS:
                yield from sorted((package / jobs).glob(f"{table}.*"))


def _values(path: Path, names: set[str]) -> Iterator[Any]:
    """The values of the first of `names` a job file has: parquet (arrow and normalized) or dlt's typed jsonl."""
    if path.name.endswith(".parquet"):
        table = pq.read_table(path)
        column = next((name for name in table.column_names if name in names), None)
        if column is not None:
            yield from table.column(column).to_pylist()
        return
    if ".typed-jsonl" in path.name:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as lines:
            for line in lines:
                for row in json.typed_loadb(line):
                    yield next((row[name] for name in names if name in row), None)


def _point(value: Any, *, like: Any) -> Any:
    """`value` in the unit of the cursor value `like`: epoch ms for instant cursors, a date for day cursors."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(like, int) and not isinstance(like, bool) and like > EPOCH_MS_FLOOR:
        if isinstance(value, int):
            return value
        if isinstance(value, dt.datetime):
            return instant_to_epoch_ms(value)
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return None
