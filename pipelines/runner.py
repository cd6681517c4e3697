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
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.runtime import signals
from dlt.sources import DltSource

from sources.common import ratelimit
from sources.common.errors import ConfigError, MarketingEltError
from sources.common.partial import STOPS
from sources.common.stats import RUN_STATS

from .failures import MarketingEltBug, describe_config_exception, find_cause, one_line
from .registry import SourceSpec
from .source_run import RunContext, SourceResult, SourceRun, signal_code
from .validation import DateRange

log = logging.getLogger("marketing_elt")


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
            code = signal_code(exc)
            signals.set_received_signal(code)
            signals.wake_all()
            for future in extracting:  # each ends at its next item (or request)
                future.exception()
            for run in runs:
                if run.started:
                    run.interrupt(code)
                    run.finish()
