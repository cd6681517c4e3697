"""`marketing-elt status`: per source and resource, what the warehouse holds and how far behind today it is.

Read-only and self-contained: everything comes from the warehouse (dlt's `_dlt_pipeline_state`,
`_dlt_version`, `_dlt_loads` and our `_marketing_elt_runs` ledger), so it is right after DLT_DATA_DIR
was lost and needs no lock a run holds. DuckDB is opened read-only and never created.

Lag: a resource is fresh through the later of its cursor's day and the day before its source's last
successful nightly (that nightly read every complete day); lag = today (UTC) minus that day. A resource that
last night's run loaded shows 1.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pendulum

from sources.common import clock

from . import ledger
from .failures import one_line
from .readers import DuckDBReader, Missing, PostgresReader, Reader, Unreadable
from .registry import SourceSpec
from .report import DATE_COLUMNS, table
from .reporting import unmapped_channels
from .reporting.unmapped import unmapped_line
from .state import as_day, cursors, readable, stored_state
from .warehouse import dataset_name, duckdb_path, pipeline_name

EXIT_FRESH, EXIT_STALE, EXIT_UNREADABLE = 0, 1, 3


@dataclass
class TableStatus:
    table: str
    rows: int
    first: Any
    last: Any


@dataclass
class ResourceStatus:
    resource: str
    cursor_field: str | None
    cursor: Any
    lag_days: int | None
    tables: list[TableStatus] = field(default_factory=list)


@dataclass
class SourceStatus:
    source: str
    loaded: bool
    last_nightly: dict[str, Any] | None = None
    last_backfill: dict[str, Any] | None = None
    last_run: dict[str, Any] | None = None
    resources: list[ResourceStatus] = field(default_factory=list)


@dataclass
class StatusReport:
    warehouse: str
    today: str
    max_lag_days: int | None
    sources: list[SourceStatus] = field(default_factory=list)
    message: str | None = None  # one line when there is nothing to read (no warehouse yet) or it is unreadable
    exit_code: int = EXIT_FRESH
    unmapped_channels: str | None = None  # traffic values no channel rule matches (they count as 'other')

    def stale(self) -> list[tuple[str, str, int | None]]:
        """(source, resource, lag) of every resource staler than max_lag_days; never-loaded sources count."""
        if self.max_lag_days is None:
            return []
        out: list[tuple[str, str, int | None]] = []
        for source in self.sources:
            if not source.resources:
                out.append((source.source, "-", None))
            out += [
                (source.source, r.resource, r.lag_days)
                for r in source.resources
                if r.lag_days is None or r.lag_days > self.max_lag_days
            ]
        return out


def collect(specs: list[SourceSpec], destination: str, max_lag_days: int | None) -> StatusReport:
    """Read the warehouse once for every source; unreadable or missing warehouses become one message."""
    today = clock.today()
    where = str(duckdb_path()) if destination == "duckdb" else destination
    report = StatusReport(where, today.isoformat(), max_lag_days)
    if destination == "duckdb" and not duckdb_path().exists():
        report.message = f"never run: there is no warehouse at {where} yet, so nothing has been loaded."
        report.sources = [SourceStatus(spec.name, loaded=False) for spec in specs]
        report.exit_code = EXIT_STALE if max_lag_days is not None else EXIT_FRESH
        return report
    try:
        reader = _open(destination)
    except Unreadable as exc:
        report.message, report.exit_code = str(exc), EXIT_UNREADABLE
        return report
    try:
        report.sources = [source_status(reader, spec, today) for spec in specs]
        report.unmapped_channels = unmapped_line(unmapped_channels(reader))
    except Unreadable as exc:
        report.message, report.exit_code = str(exc), EXIT_UNREADABLE
        return report
    finally:
        reader.close()
    report.exit_code = EXIT_STALE if report.stale() else EXIT_FRESH
    return report


def _open(destination: str) -> DuckDBReader | PostgresReader:
    if destination == "duckdb":
        return DuckDBReader(duckdb_path(), dataset_name())
    if destination == "postgres":
        return PostgresReader(dataset_name())
    raise Unreadable(f"status reads DuckDB and Postgres warehouses; for {destination}, query {ledger.TABLE} directly.")


def source_status(reader: Reader, spec: SourceSpec, today: pendulum.Date) -> SourceStatus:
    try:
        runs = ledger.last_runs(reader, spec.name)
    except Missing:
        runs = {}
    stored = stored_state(reader, pipeline_name(spec.name))
    status = SourceStatus(
        spec.name,
        loaded=False,
        last_nightly=_run(runs.get(ledger.NIGHTLY)),
        last_backfill=_run(runs.get(ledger.BACKFILL)),
        last_run=_run(runs.get("last")),
    )
    nightly = runs.get(ledger.NIGHTLY)
    nightly_day = as_day(nightly.started_at) if nightly else None
    complete_through = nightly_day.subtract(days=1) if nightly_day else None
    tables = _tables_by_resource(reader, spec.name)
    marks = cursors(stored.state if stored else None, spec.name)
    resources = {c.resource for c in marks} | set(tables)
    for resource in sorted(resources):
        cursor = next((c for c in marks if c.resource == resource), None)
        days = [d for d in (cursor.day if cursor else None, complete_through) if d is not None]
        lag = (today - max(days)).days if days and stored is not None else None
        status.resources.append(
            ResourceStatus(
                resource,
                cursor.path if cursor else None,
                readable(cursor.last_value) if cursor else None,
                lag,
                [_table_status(reader, name, columns) for name, columns in tables.get(resource, [])],
            )
        )
    # loaded: rows arrived, or a run succeeded (a source may legitimately have nothing to load yet)
    status.loaded = bool(nightly or runs.get(ledger.BACKFILL)) or any(
        t.rows for r in status.resources for t in r.tables
    )
    return status


def _run(run: ledger.LedgerRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    out = {
        "outcome": run.outcome,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "command": run.command,
        "rows": run.rows_total,
    }
    if run.backfill_start is not None:
        out["range"] = f"{_iso(run.backfill_start)} to {_iso(run.backfill_end)}"
    if run.error:
        out["error"] = run.error
    return out


def _tables_by_resource(reader: Reader, source: str) -> dict[str, list[tuple[str, set[str]]]]:
    """Resource -> its data tables, from the newest schema dlt stored in `_dlt_version`."""
    sql = (
        f"SELECT schema FROM {reader.qualify('_dlt_version')} WHERE schema_name = %s ORDER BY inserted_at DESC LIMIT 1"
    )
    try:
        rows = reader.query(sql, source)
    except Missing:
        return {}
    if not rows:
        return {}
    out: dict[str, list[tuple[str, set[str]]]] = {}
    for name, schema_table in sorted(json.loads(rows[0][0]).get("tables", {}).items()):
        if name.startswith("_dlt") or not schema_table.get("columns") or not schema_table.get("resource"):
            continue
        out.setdefault(schema_table["resource"], []).append((name, set(schema_table["columns"])))
    return out


def _table_status(reader: Reader, name: str, columns: set[str]) -> TableStatus:
    when = next((c for c in DATE_COLUMNS if c in columns), None)
    select = f"COUNT(*), MIN({when}), MAX({when})" if when else "COUNT(*), NULL, NULL"
    try:
        count, first, last = reader.query(f"SELECT {select} FROM {reader.qualify(name)}")[0]
    except Missing:  # declared in the schema, never created (no rows yet)
        return TableStatus(name, 0, None, None)
    return TableStatus(name, int(count), _iso(first, 10), _iso(last, 10))


def _iso(value: Any, length: int | None = None) -> Any:
    text = value.isoformat() if hasattr(value, "isoformat") else value
    return text[:length] if length and isinstance(text, str) else text


# --- rendering ------------------------------------------------------------------------------------------


def render_text(report: StatusReport) -> str:
    if report.message:
        return report.message
    parts = [_render_source(source) for source in report.sources]
    if report.unmapped_channels:
        parts.append(report.unmapped_channels)
    return "\n\n".join(parts)


def _render_source(source: SourceStatus) -> str:
    head = f"{source.source}: "
    if not source.loaded:
        head += "never loaded into this warehouse"
    else:
        head += f"last nightly {_describe(source.last_nightly)}; last backfill {_describe(source.last_backfill)}"
    last = source.last_run
    if last and last["outcome"] != ledger.OK:
        error = one_line(last.get("error") or "", 300)
        head += f"; last run {last['outcome'].upper()} at {last['started_at']}: {error}"
    lines = [head]
    if source.loaded and source.resources:
        marks = [
            (r.resource, r.cursor_field or "-", r.cursor, "-" if r.lag_days is None else r.lag_days)
            for r in source.resources
        ]
        lines.append(table(("resource", "cursor", "position", "lag (days)"), marks))
        rows = [(t.table, t.rows, t.first, t.last) for r in source.resources for t in r.tables]
        if rows:
            lines.append(table(("table", "rows", "first", "last"), rows))
    return "\n".join(lines)


def _describe(run: dict[str, Any] | None) -> str:
    if run is None:
        return "never"
    text = f"{run['outcome']} {run['finished_at']}"
    return f"{text} ({run['range']})" if "range" in run else text


def render_json(report: StatusReport) -> str:
    data = asdict(report)
    data["stale"] = [{"source": s, "resource": r, "lag_days": lag} for s, r, lag in report.stale()]
    return json.dumps(data, default=str, indent=2)


def stale_line(report: StatusReport) -> str | None:
    """One line for stderr when a resource lags more than allowed."""
    stale = report.stale()
    if not stale:
        return None
    named = ", ".join(
        f"{r if r != '-' else s} ({_days(lag) if lag is not None else 'never loaded'})" for s, r, lag in stale
    )
    return f"stale: {len(stale)} resource(s) lag more than {_days(report.max_lag_days)} behind {report.today}: {named}."


def _days(n: int | None) -> str:
    return f"{n} day" if n == 1 else f"{n} days"
