"""`marketing-elt status`: what each source last loaded, where its cursors stand, and how much is there.

Read-only: a source that never ran is reported as such; no pipeline state is created.
"""

from __future__ import annotations

from typing import Any

import dlt
from dlt.pipeline.exceptions import CannotRestorePipelineException

from .registry import SourceSpec
from .report import landed, table
from .warehouse import make_destination, pipeline_name


def cursors(pipeline: dlt.Pipeline, source: str) -> list[tuple[str, str, Any]]:
    """(resource, cursor path, last value) from the pipeline state written by dlt.sources.incremental."""
    resources = pipeline.state.get("sources", {}).get(source, {}).get("resources", {})
    out = []
    for resource, resource_state in sorted(resources.items()):
        for path, incremental in sorted(resource_state.get("incremental", {}).items()):
            out.append((resource, path, incremental.get("last_value")))
    return out


def last_load(pipeline: dlt.Pipeline, source: str) -> Any:
    with pipeline.sql_client() as client:
        loads = client.make_qualified_table_name("_dlt_loads")
        rows = client.execute_sql(f"SELECT MAX(inserted_at) FROM {loads} WHERE schema_name = %s AND status = 0", source)
    return rows[0][0] if rows else None


def source_status(spec: SourceSpec, destination: str) -> str:
    try:
        pipeline = dlt.attach(pipeline_name(spec.name), destination=make_destination(destination))
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
