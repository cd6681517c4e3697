"""`marketing-elt status`: what each source last loaded, where its cursors stand, and how much is there.

Read-only: a source that never ran is reported as such; no pipeline state is created.
"""

from __future__ import annotations

import os
from typing import Any

import dlt
import pendulum
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.pipeline.exceptions import CannotRestorePipelineException

from .registry import SourceSpec
from .report import landed, table
from .warehouse import make_destination, pipeline_name

EPOCH_MS_FLOOR = 10**11  # 1973 in ms; no other cursor we keep is an integer this large


def cursors(pipeline: dlt.Pipeline, source: str) -> list[tuple[str, str, Any]]:
    """(resource, cursor path, last value) from the pipeline state written by dlt.sources.incremental."""
    resources = pipeline.state.get("sources", {}).get(source, {}).get("resources", {})
    out = []
    for resource, resource_state in sorted(resources.items()):
        for path, incremental in sorted(resource_state.get("incremental", {}).items()):
            out.append((resource, path, readable(incremental.get("last_value"))))
    return out


def readable(value: Any) -> Any:
    """Epoch-millisecond cursors (Leads v1) read better as UTC timestamps; other values pass through."""
    if isinstance(value, int) and not isinstance(value, bool) and value > EPOCH_MS_FLOOR:
        return pendulum.from_timestamp(value / 1000, tz="UTC").isoformat()
    return value


def last_load(pipeline: dlt.Pipeline, source: str) -> Any:
    try:
        with pipeline.sql_client() as client:
            loads = client.make_qualified_table_name("_dlt_loads")
            sql = f"SELECT MAX(inserted_at) FROM {loads} WHERE schema_name = %s AND status = 0"
            rows = client.execute_sql(sql, source)
    except Exception:  # no warehouse or no loads table yet: nothing was loaded
        return None
    return rows[0][0] if rows else None


def source_status(spec: SourceSpec, destination: str) -> str:
    name = pipeline_name(spec.name)
    # dlt.attach would try to restore a missing pipeline from the warehouse (creating the DuckDB file).
    if not os.path.isdir(os.path.join(get_dlt_pipelines_dir(), name)):
        return f"{spec.name}: never run on this machine (no pipeline state in the dlt data dir)."
    try:
        pipeline = dlt.attach(name, destination=make_destination(destination))
    except CannotRestorePipelineException:
        return f"{spec.name}: never run on this machine (no pipeline state in the dlt data dir)."
    lines = [f"{spec.name}: last successful load {_fmt(last_load(pipeline, spec.name))}"]
    marks = cursors(pipeline, spec.name)
    if marks:
        lines.append(table(("resource", "cursor", "position"), marks))
    tables = landed(pipeline)
    if tables:
        lines.append(table(("table", "rows", "first", "last"), tables))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else "never"
