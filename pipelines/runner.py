"""Run sources into the warehouse, one dlt pipeline per source, and report what happened.

One pipeline per source keeps state, failures and retries independent: a vendor that is down (or an
exhausted quota) fails its own source while the others load. Each source: 1. reconcile its local state with
the warehouse (sync.py), 2. finish what an interrupted run left, 3. restart resources whose tables are gone,
4. extract, 5. normalize and load, 6. record the outcome in the run ledger.

Extraction is bound by vendor latency, not CPU (issue 19), so by default (`[marketing_elt] parallel_sources`)
the sources extract side by side in worker threads, each into its own pipeline, with the vendors' shared
rate limiters kept; every step that touches the warehouse (1-3, 5, 6) runs on the runner's thread, one
source at a time, because DuckDB is a single-writer file. Ctrl-C stops the whole run: every source still
extracting stops at its next item, no further source starts, what was loaded stays.
"""

from __future__ import annotations

import contextvars
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dlt
import pendulum
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.runtime import signals
from dlt.sources import DltSource

from sources.common import clock, ratelimit
from sources.common.errors import ConfigError, MarketingEltError
from sources.common.partial import STOPS
from sources.common.stats import RUN_STATS, counting_for

from . import crashpoints, drift, ledger, sync
from .failures import (
    MarketingEltBug,
    describe_config_exception,
    describe_failure,
    find_cause,
    find_interrupt,
    one_line,
)
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


def parallel_sources() -> bool:
    """`[marketing_elt] parallel_sources` (default true): extract the selected sources side by side."""
    value: Any = dlt.config.get("marketing_elt.parallel_sources")
    if value is None or isinstance(value, bool):
        return value is not False
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return text in ("true", "1", "yes", "on")
    raise ConfigError(
        f"parallel_sources must be true or false, got {value!r}: fix MARKETING_ELT__PARALLEL_SOURCES "
        "or [marketing_elt] parallel_sources."
    )


def run_sources(
    prepared: list[tuple[SourceSpec, DltSource]],
    *,
    destination: str = "duckdb",
    show_progress: bool = False,
    context: RunContext | None = None,
    parallel: bool | None = None,
) -> RunReport:
    """Run every source; a failing source is reported and the others still run; Ctrl-C stops all.

    `parallel` (default: the `parallel_sources` setting) extracts the sources side by side, in threads;
    otherwise one after another. Results are listed in the order of `prepared` either way.
    """
    parallel = parallel_sources() if parallel is None else parallel
    RUN_STATS.reset()
    STOPS.reset()
    ratelimit.reset_all()
    signals.set_received_signal(0)
    context = context or RunContext(command="marketing-elt")
    started = time.monotonic()
    runs = [SourceRun(spec, source, destination, context, show_progress) for spec, source in prepared]
    try:
        if parallel and len(runs) > 1:
            _side_by_side(runs)
        else:
            _one_after_another(runs)
    finally:
        signals.set_received_signal(0)  # dlt's process-wide flag, set to stop extract threads
    results = [run.result for run in runs if run.started]
    report = RunReport(results, RUN_STATS.snapshot(), time.monotonic() - started)
    if any(r.ok or r.rows for r in results):
        # Once per run, after every source: the views read across sources. A failed refresh is a note.
        from .reporting import refresh_views

        report.notes += refresh_views(destination).notes
    return report


class SourceRun:
    """One source's part of a run, in steps the runner can put on different threads.

    `begin` (warehouse: reconcile, finish what an interrupted run left, reset lost tables), `extract` (vendor
    requests only: may run in a worker thread beside other sources), `load` (normalize and load into the
    warehouse), `finish` (the ledger row). The warehouse steps of all sources run on the runner's thread, one
    at a time: DuckDB is a single-writer file. A step that fails records why and the later steps do nothing.
    """

    def __init__(
        self, spec: SourceSpec, source: DltSource, destination: str, context: RunContext, show_progress: bool
    ) -> None:
        self.spec, self.source, self.destination, self.context = spec, source, destination, context
        self.show_progress = show_progress
        self.result = SourceResult(spec.name, False)
        self.started = False
        self.failed = False  # a step raised: the later ones are skipped
        self.finished = False
        self.pipeline: dlt.Pipeline | None = None
        self._started_at = clock.now()
        self._started = 0.0

    def begin(self) -> None:
        self.started, self._started_at, self._started = True, clock.now(), time.monotonic()
        progress = progress_for(sys.stderr) if self.show_progress else None
        with self._step():
            self.pipeline = pipeline = make_pipeline(self.spec.name, self.destination, progress=progress)
            result, spec = self.result, self.spec
            result.notes += sync.reconcile(pipeline, spec)
            finished = sync.finish_pending(pipeline)
            if finished:
                result.recovered = loaded_rows(pipeline, finished)
                result.notes.append(
                    f"{spec.name}: first finished the load package {', '.join(finished)} left by an interrupted "
                    f"run ({sum(result.recovered.values())} rows), then ran what was asked."
                )
            result.notes += sync.reset_missing_tables(pipeline, spec)
            if self.context.backfill is None:
                result.notes += sync.start_date_notes(pipeline, spec)
            if pipeline.config.restore_from_destination:
                pipeline.sync_destination()  # what `pipeline.run` does before extracting

    def extract(self) -> None:
        """The vendor requests: safe on a worker thread (dlt's contexts are per thread; the pipeline is this
        source's own)."""
        if self.failed or self.pipeline is None:
            return
        with self._step(), crashpoints.armed_extract(self.source, self.spec.name):
            self.pipeline.extract(self.source, loader_file_format=LOADER_FILE_FORMAT[self.destination])  # type: ignore[arg-type]

    def load(self) -> None:
        if self.failed or self.pipeline is None:
            return
        pipeline, spec, result = self.pipeline, self.spec, self.result
        with self._step(), crashpoints.armed_load(spec.name):
            pipeline.normalize()
            info = pipeline.load()
            load_ids = info.loads_ids if info else []
            result.rows = loaded_rows(pipeline, load_ids)
            updates = [package.schema_update for package in info.load_packages] if info else []
            variants = drift.variant_note(spec.name, pipeline, load_ids, updates)
            if variants:
                result.notes.append(variants)
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

    def interrupt(self, code: int) -> None:
        """Stopped by a signal before it finished (Ctrl-C elsewhere in the run)."""
        if not self.finished and self.result.interrupted_by is None and not (self.failed and self.result.error):
            self.result.ok, self.failed = False, True
            self.result.interrupted_by, self.result.error = _interrupted(self.spec, code)

    def finish(self) -> None:
        """Close the source's part: elapsed time and the ledger row (always, whatever the outcome)."""
        if self.finished:
            return
        self.finished = True
        STOPS.take(self.spec.name)
        self.result.elapsed_s = time.monotonic() - self._started
        if self.pipeline is not None:
            with counting_for(self.spec.name):
                _record(self.pipeline, self.destination, self.context, self.result, self._started_at)

    @contextmanager
    def _step(self) -> Iterator[None]:
        """Count what the step does for this source, and turn its failure into the source's one sentence."""
        try:
            with counting_for(self.spec.name):
                yield
        except KeyboardInterrupt as exc:
            self.failed = True
            self.result.ok = False
            self.result.interrupted_by, self.result.error = _interrupted(self.spec, _signal_code(exc))
            raise
        except Exception as exc:  # one sentence for the user; the traceback only at DEBUG
            self.failed = True
            self.result.ok = False
            interrupt = find_interrupt(exc)
            if interrupt is not None:
                self.result.interrupted_by, self.result.error = _interrupted(self.spec, _signal_code(interrupt))
                raise interrupt from None
            log.debug("%s failed", self.spec.name, exc_info=True)
            self.result.error = describe_failure(self.spec.name, exc)


def _one_after_another(runs: list[SourceRun]) -> None:
    """Each source whole before the next starts; Ctrl-C: no further source starts."""
    for run in runs:
        try:
            run.begin()
            run.extract()
            run.load()
        except KeyboardInterrupt:
            return
        finally:
            run.finish()


def _side_by_side(runs: list[SourceRun]) -> None:
    """Extraction of every source at once, in worker threads; warehouse steps on this thread, one at a time.

    Sources begin in order (each then starts extracting); each is loaded as soon as its extract ends. On
    Ctrl-C (a KeyboardInterrupt on this thread, where Python delivers signals) dlt's process-wide signal
    flag stops every extract at its next item, no further source begins, and what was loaded stays.
    """
    extracting: dict[Future[None], SourceRun] = {}
    with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="marketing-elt-extract") as pool:
        try:
            for run in runs:
                run.begin()
                if run.failed:
                    run.finish()
                else:
                    extracting[pool.submit(contextvars.copy_context().run, run.extract)] = run
            pending = set(extracting)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: runs.index(extracting[f])):
                    run = extracting[future]
                    run.load()
                    run.finish()
        except KeyboardInterrupt as exc:
            code = _signal_code(exc)
            signals.set_received_signal(code)
            signals.wake_all()
            for future in extracting:  # each ends at its next item (or request)
                future.exception()
            for run in runs:
                if run.started:
                    run.interrupt(code)
                    run.finish()


def _signal_code(exc: BaseException) -> int:
    return int(getattr(exc, "signal_code", signal.SIGINT))


def _interrupted(spec: SourceSpec, code: int) -> tuple[int, str]:
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
) -> None:
    """One ledger row for this source, with the requests, retries and splits counted for it alone."""
    counts = RUN_STATS.for_source(result.name)
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
        requests=counts["requests"],
        retries=counts["retries"],
        window_splits=counts["splits"],
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
