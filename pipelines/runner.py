"""Run sources into the warehouse, one dlt pipeline per source, and report what happened.

One pipeline per source keeps state, failures and retries independent: a vendor that is down (or an
exhausted quota) fails its own source while the others load. Each source, in order:
1. reconcile its local state with the warehouse (sync.py), 2. finish what an interrupted run left,
3. restart resources whose tables are gone, 4. extract, normalize and load what was asked,
5. record the outcome in the run ledger. Ctrl-C stops the whole run: no further source starts.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import dlt
import pendulum
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.sources import DltSource

from sources.common import clock
from sources.common.errors import ConfigError, MarketingEltError
from sources.common.partial import STOPS
from sources.common.stats import RUN_STATS

from . import crashpoints, ledger, sync
from .failures import MarketingEltBug, describe_config_exception, describe_failure, find_cause, one_line
from .progress import progress_for
from .registry import SourceSpec
from .validation import DateRange
from .warehouse import LOADER_FILE_FORMAT, dataset_name, make_destination, pipeline_name

log = logging.getLogger("marketing_elt")


@dataclass
class SourceResult:
    name: str
    ok: bool
    rows: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    recovered: dict[str, int] = field(default_factory=dict)  # rows of packages an interrupted run left
    interrupted_by: int | None = None  # the signal that stopped the run during this source


@dataclass
class RunReport:
    results: list[SourceResult]
    stats: dict[str, dict[str, int]]
    elapsed_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def interrupted_by(self) -> int | None:
        return next((r.interrupted_by for r in self.results if r.interrupted_by is not None), None)


@dataclass(frozen=True)
class RunContext:
    """What the ledger records about the invocation."""

    command: str
    backfill: DateRange | None = None
    run_id: str = field(default_factory=lambda: f"{clock.now().format('YYYYMMDDTHHmmss')}-{os.getpid()}")
    host: str = field(default_factory=socket.gethostname)

    @property
    def kind(self) -> str:
        return ledger.BACKFILL if self.backfill else ledger.NIGHTLY


def make_pipeline(source: str, destination: str, *, progress: Any = None) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=pipeline_name(source),
        destination=make_destination(destination),
        dataset_name=dataset_name(),
        progress=progress,
    )


def prepare(specs: list[SourceSpec], backfill: DateRange | None = None) -> list[tuple[SourceSpec, DltSource]]:
    """Build every source before any pipeline exists: config mistakes surface here, before state or requests.

    Only our own errors and dlt's configuration errors are bad configuration (exit 2). Anything else
    raised while building a source is a bug: MarketingEltBug (exit 1), its traceback logged at DEBUG.
    """
    kwargs: dict[str, Any] = {}
    if backfill is not None:
        kwargs = {"backfill_start": backfill.start, "backfill_end": backfill.end}
    prepared = []
    for spec in specs:
        try:
            prepared.append((spec, spec.load_factory()(**kwargs)))
        except Exception as exc:
            ours = find_cause(exc, MarketingEltError)
            if ours is not None:
                raise ours from None
            config = find_cause(exc, ConfigurationException)
            if config is not None:
                raise ConfigError(describe_config_exception(spec, config)) from None
            log.debug("building %s failed", spec.name, exc_info=True)
            raise MarketingEltBug(
                f"{spec.name} could not be prepared because of a bug in marketing-elt, not your configuration "
                f"({type(exc).__name__}: {one_line(str(exc), 200)}); rerun with --log-level DEBUG for the traceback "
                "and report it."
            ) from None
    return prepared


def run_sources(
    prepared: list[tuple[SourceSpec, DltSource]],
    *,
    destination: str = "duckdb",
    show_progress: bool = False,
    context: RunContext | None = None,
) -> RunReport:
    """Run each source in turn; a failing source is reported and the others still run; Ctrl-C stops all."""
    RUN_STATS.reset()
    STOPS.reset()
    context = context or RunContext(command="marketing-elt")
    started = time.monotonic()
    results: list[SourceResult] = []
    for spec, source in prepared:
        result = _run_one(spec, source, destination, show_progress, context)
        results.append(result)
        if result.interrupted_by is not None:
            break
    report = RunReport(results, RUN_STATS.snapshot(), time.monotonic() - started)
    if any(r.ok or r.rows for r in results):
        # Once per run, after every source: the views read across sources. A failed refresh is a note.
        from .reporting import refresh_views

        report.notes += refresh_views(destination).notes
    return report


def _run_one(
    spec: SourceSpec, source: DltSource, destination: str, show_progress: bool, context: RunContext
) -> SourceResult:
    started_at, started = clock.now(), time.monotonic()
    before = RUN_STATS.snapshot()
    result = SourceResult(spec.name, False)
    progress = progress_for(sys.stderr) if show_progress else None
    pipeline = make_pipeline(spec.name, destination, progress=progress)
    try:
        result.notes += sync.reconcile(pipeline, spec)
        finished = sync.finish_pending(pipeline)
        if finished:
            result.recovered = loaded_rows(pipeline, finished)
            result.notes.append(
                f"{spec.name}: first finished the load package {', '.join(finished)} left by an interrupted run "
                f"({sum(result.recovered.values())} rows), then ran what was asked."
            )
        result.notes += sync.reset_missing_tables(pipeline, spec)
        if context.backfill is None:
            result.notes += sync.start_date_notes(pipeline, spec)
        with crashpoints.armed(source, spec.name):
            info = pipeline.run(source, loader_file_format=LOADER_FILE_FORMAT[destination])  # type: ignore[arg-type]
        result.rows = loaded_rows(pipeline, info.loads_ids)
        stops = STOPS.take(spec.name)
        if stops:
            result.error = " ".join(f"{spec.name}: {stop}" for stop in stops)
            arrived = sum(result.rows.values())
            if arrived:
                result.error += (
                    f" The {arrived} rows that arrived before were loaded; the next run continues from there."
                )
        else:
            result.ok = True
    except KeyboardInterrupt as exc:
        result.interrupted_by, result.error = _interrupted(spec, exc)
    except Exception as exc:  # one sentence for the user; the traceback only at DEBUG
        interrupt = find_cause(exc, KeyboardInterrupt)
        if interrupt is not None:
            result.interrupted_by, result.error = _interrupted(spec, interrupt)
        else:
            log.debug("%s failed", spec.name, exc_info=True)
            result.error = describe_failure(spec.name, exc)
    finally:
        STOPS.take(spec.name)
        result.elapsed_s = time.monotonic() - started
        _record(pipeline, destination, context, result, started_at, before, spec.vendor)
    return result


def _interrupted(spec: SourceSpec, exc: BaseException) -> tuple[int, str]:
    code = int(getattr(exc, "signal_code", 2))
    return code, (
        f"{spec.name}: interrupted ({'Ctrl-C' if code == 2 else f'signal {code}'}); what was loaded before stays, "
        "no further source was started, and the next run finishes or redoes the rest."
    )


def _record(
    pipeline: dlt.Pipeline,
    destination: str,
    context: RunContext,
    result: SourceResult,
    started_at: pendulum.DateTime,
    before: dict[str, dict[str, int]],
    vendor: str,
) -> None:
    """One ledger row for this source. Request counts are the difference of the per-vendor counters, which
    is exact while sources run one after another."""
    after = RUN_STATS.snapshot()

    def delta(kind: str) -> int:
        return after.get(kind, {}).get(vendor, 0) - before.get(kind, {}).get(vendor, 0)

    outcome = ledger.OK if result.ok else ledger.INTERRUPTED if result.interrupted_by is not None else ledger.FAILED
    rows = dict(result.rows)
    for table, count in result.recovered.items():
        rows[table] = rows.get(table, 0) + count
    entry = ledger.Entry(
        run_id=context.run_id,
        source=result.name,
        kind=context.kind,
        command=context.command,
        destination=destination,
        started_at=started_at,
        finished_at=clock.now(),
        outcome=outcome,
        backfill_start=context.backfill.start if context.backfill else None,
        backfill_end=context.backfill.end if context.backfill else None,
        rows=rows,
        requests=delta("requests"),
        retries=delta("retries"),
        window_splits=delta("splits"),
        notes=result.notes,
        error=result.error,
        host=context.host,
        pid=os.getpid(),
    )
    ledger.record(pipeline, destination, entry)


def loaded_rows(pipeline: dlt.Pipeline, load_ids: list[str]) -> dict[str, int]:
    """Rows each data table holds from these loads, counted in the warehouse by `_dlt_load_id`.

    dlt's normalize counts include rows a merge never keeps (the Leads child tables' replacement markers),
    and a package finished after a crash has no normalize counts in this process: the warehouse knows both.
    """
    if not load_ids or not pipeline.default_schema_name:
        return {}
    placeholders = ", ".join(["%s"] * len(load_ids))
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for table in pipeline.default_schema.data_tables(seen_data_only=True):
            name = table["name"]
            if "_dlt_load_id" not in table.get("columns", {}):
                continue
            qualified = client.make_qualified_table_name(name)
            sql = f"SELECT COUNT(*) FROM {qualified} WHERE _dlt_load_id IN ({placeholders})"
            try:
                count = int(client.execute_sql(sql, *load_ids)[0][0])
            except Exception:  # a table of the schema not created in this warehouse
                log.debug("could not count %s by load id", name, exc_info=True)
                continue
            if count:
                counts[name] = count
    return counts
