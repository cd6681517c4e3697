"""One source's part of a run (`SourceRun`): its steps, its outcome and its ledger row.

The steps are separate so the runner (runner.py) can put the vendor requests on a worker thread while every
step that touches the warehouse stays on its own thread. Each step records its failure as one sentence and
the later steps do nothing; a Ctrl-C is recorded as an interruption and raised on, also when DuckDB caught it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dlt
import pendulum
from dlt.sources import DltSource

from sources.common import clock
from sources.common.partial import STOPS
from sources.common.stats import RUN_STATS, counting_for

from . import crashpoints, drift, ledger, sync
from .failures import describe_failure, find_interrupt
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
            self.result.interrupted_by, self.result.error = interrupted(self.spec, code)

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
            self.result.interrupted_by, self.result.error = interrupted(self.spec, signal_code(exc))
            raise
        except Exception as exc:  # one sentence for the user; the traceback only at DEBUG
            self.failed = True
            self.result.ok = False
            interrupt = find_interrupt(exc)
            if interrupt is not None:
                self.result.interrupted_by, self.result.error = interrupted(self.spec, signal_code(interrupt))
                raise interrupt from None
            log.debug("%s failed", self.spec.name, exc_info=True)
            self.result.error = describe_failure(self.spec.name, exc)


def signal_code(exc: BaseException) -> int:
    return int(getattr(exc, "signal_code", signal.SIGINT))


def interrupted(spec: SourceSpec, code: int) -> tuple[int, str]:
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
