"""A throwaway dlt pipeline for integration tests that drive a source directly (not through the CLI)."""

from __future__ import annotations

from pathlib import Path

import dlt


def local_pipeline(root: Path, name: str) -> dlt.Pipeline:
    """Its own state under `root/dlt` and its own DuckDB file `root/<name>.duckdb`, dataset `marketing`."""
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(root / f"{name}.duckdb")),
        dataset_name="marketing",
        pipelines_dir=str(root / "dlt"),
    )
