"""The Leads first load appends instead of merging, where that is exactly-once too.

Why: dlt's `delete-insert` merge loads every row into a staging table and then inserts it again into the
warehouse table, deduplicating on the way: about twice an append (../shared/performance-notes.md,
README "Performance"). On the first load of the three tables there is nothing to delete and, with keyset
paging, no lead twice in the run (sources/common/keyset.py), so the merge only buys one thing: a file that
dlt loads again after a kill between DuckDB committing it and dlt recording it does not duplicate rows.
A destination that appends each file at most once (`EXACTLY_ONCE_APPEND`, pipelines/warehouse.py) gives
that too, so with it the first load appends.

"First load" means both: the schema being extracted into has never typed a leads column (other than those
the resource declares itself), and the warehouse holds no row of the three tables (asked at the start of
the extract: the CLI finishes an interrupted run's package before it extracts, pipelines/sync.py). After a
backfill, a nightly, or with a warehouse that other state loaded, the run merges as always. The choice is
made once per run, so the three tables of one load package always share it. What the merge would have left
out is left out here: `_tombstone` rows (they only tell the merge to delete) and, with `hard_delete`, deleted
leads.
"""

from __future__ import annotations

import logging
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.extract.hints import make_hints

from .leads_flatten import EVENTS_TABLE, LEADS_TABLE, TOMBSTONE, VALUES_TABLE

logger = logging.getLogger(__name__)

DESTINATION_FLAG = "EXACTLY_ONCE_APPEND"  # set on a destination factory whose parquet appends are exactly-once
DELETED = "is_deleted"
CURSOR_FIELD = "lastModifiedAt"  # as leads.py declares it (dedup_sort)
TABLES = (LEADS_TABLE, EVENTS_TABLE, VALUES_TABLE)


def first_load_appends(declared: frozenset[str]) -> bool:
    """True when this run may append: the destination appends exactly once, and the schema has never typed
    a leads column other than the `declared` ones (hints the resource sets itself, and dlt's own)."""
    try:
        destination = dlt.current.pipeline().destination
        schema = dlt.current.source_schema()
    except Exception:  # outside a pipeline run (e.g. iterating the resource directly): merge, as always
        return False
    if not getattr(destination, DESTINATION_FLAG, False):
        return False
    table = schema.tables.get(LEADS_TABLE) or {}
    typed = any(
        column.get("data_type") and name not in declared and not name.startswith("_dlt")
        for name, column in table.get("columns", {}).items()
    )
    return not typed and _warehouse_empty(dlt.current.pipeline())


def _warehouse_empty(pipeline: dlt.Pipeline) -> bool:
    """No row in any of the three tables (a table that does not exist holds none); unsure means not empty."""
    try:
        with pipeline.sql_client() as client:
            for name in TABLES:
                try:
                    if client.execute_sql(f"SELECT 1 FROM {client.make_qualified_table_name(name)} LIMIT 1"):
                        return False
                except DatabaseUndefinedRelation:
                    continue
    except Exception:  # the warehouse cannot answer: merge, which is right whatever it holds
        logger.info("hubspot_leads: could not tell whether the warehouse holds leads; merging", exc_info=True)
        return False
    return True


def as_append(item: pa.Table | list[dict[str, Any]], table_name: str, *, hard_delete: bool) -> Any:
    """`item` for `table_name`, appended: without the rows a merge would not insert."""
    if isinstance(item, pa.Table):
        keep = _arrow_keep(item, table_name, hard_delete=hard_delete)
        rows: Any = item if keep is None else item.filter(keep)
    else:
        rows = [row for row in item if _row_kept(row, table_name, hard_delete=hard_delete)]
    hints = make_hints(table_name=table_name, write_disposition="append", columns=_MERGE_ONLY[table_name])
    return dlt.mark.with_hints(rows, hints, True)


# Column hints only a merge applies, switched off while appending (dlt warns that it ignores them on every
# load otherwise); the next run's merge sets them again (leads.py `_declare_tables`).
_MERGE_ONLY: dict[str, Any] = {
    LEADS_TABLE: {
        CURSOR_FIELD: {"name": CURSOR_FIELD, "dedup_sort": None},
        DELETED: {"name": DELETED, "hard_delete": False},
    },
    EVENTS_TABLE: {TOMBSTONE: {"name": TOMBSTONE, "hard_delete": False}},
    VALUES_TABLE: {TOMBSTONE: {"name": TOMBSTONE, "hard_delete": False}},
}


def _arrow_keep(table: pa.Table, table_name: str, *, hard_delete: bool) -> pa.ChunkedArray | None:
    column = TOMBSTONE if table_name != LEADS_TABLE else DELETED if hard_delete else None
    if column is None or column not in table.column_names:
        return None
    return pc.invert(pc.fill_null(table.column(column).cast(pa.bool_()), False))


def _row_kept(row: dict[str, Any], table_name: str, *, hard_delete: bool) -> bool:
    if table_name != LEADS_TABLE:
        return row.get(TOMBSTONE) is not True
    return not (hard_delete and row.get(DELETED) is True)
