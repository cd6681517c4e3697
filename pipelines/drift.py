"""Name the variant columns a run filled, so a vendor's type change is seen the night it happens.

When a value arrives whose type the column cannot hold (a number turned into "L-1000123"), dlt keeps it in a
variant column (`lead_id__v_text`) and leaves the base column NULL for that row. Nothing is lost, but every
query on the base column now misses those rows, so the run summary says which columns took such values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dlt

log = logging.getLogger("marketing_elt")


def variant_columns(schema_updates: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(table, column) of every variant column created by these schema updates (dlt's `schema_update`)."""
    return {
        (table_name, column_name)
        for update in schema_updates
        for table_name, table in update.items()
        for column_name, column in (table.get("columns") or {}).items()
        if column.get("variant")
    }


def filled_variants(pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    """Values these loads put into variant columns, per (table, column), for tables that carry `_dlt_load_id`."""
    if not load_ids or not pipeline.default_schema_name:
        return {}
    found: dict[tuple[str, str], int] = {}
    placeholders = ", ".join(["%s"] * len(load_ids))
    with pipeline.sql_client() as client:
        for table in pipeline.default_schema.data_tables(seen_data_only=True):
            columns = table.get("columns", {})
            variants = [name for name, column in columns.items() if column.get("variant")]
            if not variants or "_dlt_load_id" not in columns:
                continue
            qualified = client.make_qualified_table_name(table["name"])
            counts = ", ".join(f"COUNT({client.escape_column_name(name)})" for name in variants)
            sql = f"SELECT {counts} FROM {qualified} WHERE _dlt_load_id IN ({placeholders})"
            try:
                row = client.execute_sql(sql, *load_ids)[0]
            except Exception:  # a table of the schema the warehouse does not hold (yet)
                log.debug("could not count variant values in %s", table["name"], exc_info=True)
                continue
            found.update({(table["name"], name): int(n) for name, n in zip(variants, row, strict=True) if n})
    return found


def variant_note(
    source: str, pipeline: dlt.Pipeline, load_ids: Sequence[str], schema_updates: Iterable[Mapping[str, Any]]
) -> str | None:
    """One sentence naming the variant columns this run created or filled, or None when there are none."""
    filled = filled_variants(pipeline, load_ids)
    named = sorted(set(filled) | variant_columns(schema_updates))
    if not named:
        return None
    listed = ", ".join(
        f"{table}.{column}" + (f" ({filled[(table, column)]} values)" if (table, column) in filled else "")
        for table, column in named
    )
    return (
        f"{source}: the vendor sent values of another type than their columns hold; they were loaded into the "
        f"variant columns {listed} and the base columns are NULL in those rows: check the vendor's change and the "
        "queries that read these columns."
    )
