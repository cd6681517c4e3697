"""Plain-text tables for the end of a run, the demo and `status`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dlt

from .runner import RunReport

# The column that says "when" for each kind of table, first match wins.
DATE_COLUMNS = ("date", "bucket", "last_modified_at", "timestamp", "window_start", "convert_date")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_run_report(report: RunReport) -> str:
    """Rows per table (failed sources included: what arrived before a failure is kept), requests, then one
    outcome line per source, and the notes (recovered work, state taken from the warehouse, ...)."""
    parts: list[str] = []
    rows = [
        (result.name, table_name, count)
        for result in report.results
        for table_name, count in sorted(result.rows.items())
    ]
    if rows:
        parts.append(table(("source", "table", "rows loaded"), rows))
    counters = ("requests", "retries", "splits", "incomplete")
    vendors = sorted(set().union(*(report.stats.get(k, {}) for k in counters)))
    if vendors:
        parts.append(
            table(
                ("vendor", "requests", "retries", "window splits", "incomplete answers"),
                [
                    (
                        vendor,
                        report.stats.get("requests", {}).get(vendor, 0),
                        report.stats.get("retries", {}).get(vendor, 0),
                        report.stats.get("splits", {}).get(vendor, 0),
                        report.stats.get("incomplete", {}).get(vendor, 0),
                    )
                    for vendor in vendors
                ],
            )
        )
    notes = [*report.notes, *(note for result in report.results for note in result.notes)]
    if notes:
        parts.append("\n".join(f"note: {note}" for note in notes))
    outcomes = []
    for result in report.results:
        status = "ok" if result.ok else "INTERRUPTED" if result.interrupted_by is not None else "FAILED"
        line = f"{result.name}: {status} in {result.elapsed_s:.1f}s"
        outcomes.append(line if result.ok else f"{line}: {result.error}")
    parts.append("\n".join([*outcomes, f"elapsed {report.elapsed_s:.1f}s"]))
    return "\n\n".join(parts)


def landed(pipeline: dlt.Pipeline) -> list[tuple[str, int, Any, Any]]:
    """(table, rows, first, last) for every data table of this pipeline's schema that exists in the warehouse."""
    schema = pipeline.default_schema
    out: list[tuple[str, int, Any, Any]] = []
    with pipeline.sql_client() as client:
        for table_schema in sorted(schema.data_tables(), key=lambda t: str(t["name"])):
            name, columns = str(table_schema["name"]), table_schema.get("columns", {})
            when = next((c for c in DATE_COLUMNS if c in columns), None)
            qualified = client.make_qualified_table_name(name)
            select = (
                f"SELECT COUNT(*), MIN({when}), MAX({when}) FROM {qualified}"
                if when
                else (f"SELECT COUNT(*), NULL, NULL FROM {qualified}")
            )
            try:
                count, first, last = (client.execute_sql(select) or [(0, None, None)])[0]
            except Exception:  # table declared in the schema but never created (no rows yet)
                continue
            out.append((name, int(count), _short(first), _short(last)))
    return out


def _short(value: Any) -> Any:
    return value.isoformat()[:10] if hasattr(value, "isoformat") else value
