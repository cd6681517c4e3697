"""The reporting layer BI tools read: views in the `reporting` schema, the HTML report, the read-only copy.

The views are written once, in `views/*.sql` (DuckDB's dialect as sqlglot reads it), and transpiled by
sqlglot for each destination (DuckDB, Postgres, BigQuery), so the three warehouses answer the same
questions with the same numbers. Everything heavy is imported lazily: `marketing-elt --help` must stay fast.

Entry points:
- `refresh_views(pipeline_or_destination)`: create or replace the views (after each successful load).
- `publish_if_configured(destination)` / `publish_after_run(destination)`: the read-only copy for BI readers
  when `publish_path` is set (the latter returns notes and never raises, for the end of a run).
- `unmapped_channels(reader)`: traffic values no channel rule matched (for `marketing-elt status`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .publish import PublishResult
    from .refresh import RefreshResult
    from .unmapped import UnmappedValue


def refresh_views(target: Any, *, raise_errors: bool = False) -> RefreshResult:
    """Create or replace the reporting views in the warehouse of `target` (a dlt pipeline or a destination name).

    Never raises for a warehouse problem unless `raise_errors`: the load it follows has already succeeded, so a
    failed refresh is a note (`RefreshResult.notes`), not a failed run.
    """
    from .refresh import refresh_views as refresh

    return refresh(target, raise_errors=raise_errors)


def publish_if_configured(destination: str) -> PublishResult | None:
    """Write the read-only DuckDB copy for BI readers when `[marketing_elt] publish_path` is set, else None."""
    from .publish import publish_if_configured as publish

    return publish(destination)


def publish_after_run(destination: str) -> list[str]:
    """The end of a run: publish when configured; a note either way, never an exception."""
    from .publish import publish_after_run as after_run

    return after_run(destination)


def unmapped_channels(reader: Any) -> list[UnmappedValue]:
    """Traffic values of the warehouse that no rule of the channel map matched (they count as `other`)."""
    from .unmapped import unmapped_channels as unmapped

    return unmapped(reader)


__all__ = ["publish_after_run", "publish_if_configured", "refresh_views", "unmapped_channels"]
