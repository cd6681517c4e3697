"""Run sources into the warehouse, one dlt pipeline per source, and report what happened.

One pipeline per source keeps state, failures and retries independent: a vendor that is down (or an
exhausted quota) fails its own source while the others load.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.sources import DltSource

from sources.common.errors import ConfigError, MarketingEltError
from sources.common.redaction import redact
from sources.common.stats import RUN_STATS

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


@dataclass
class RunReport:
    results: list[SourceResult]
    stats: dict[str, dict[str, int]]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)


def make_pipeline(source: str, destination: str, *, progress: Any = None) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=pipeline_name(source),
        destination=make_destination(destination),
        dataset_name=dataset_name(),
        progress=progress,
    )


def prepare(specs: list[SourceSpec], backfill: DateRange | None = None) -> list[tuple[SourceSpec, DltSource]]:
    """Build every source before any pipeline exists: config mistakes surface here, before state or requests."""
    kwargs: dict[str, Any] = {}
    if backfill is not None:
        kwargs = {"backfill_start": backfill.start, "backfill_end": backfill.end}
    prepared = []
    for spec in specs:
        try:
            prepared.append((spec, spec.load_factory()(**kwargs)))
        except MarketingEltError:
            raise
        except Exception as exc:
            ours = find_cause(exc, MarketingEltError)
            if ours is not None:
                raise ours from None
            bad_value = find_cause(exc, ConfigValueCannotBeCoercedException)
            if bad_value is not None:
                raise ConfigError(
                    f"{spec.name}: {spec.env_var(bad_value.field_name)} (or [sources.{spec.section}] "
                    f"{bad_value.field_name}) has a value of the wrong type; lists are JSON, e.g. "
                    '\'["totals", "sources"]\'.'
                ) from None
            raise ConfigError(f"{spec.name} could not be configured: {redact(str(exc)).splitlines()[0]}") from None
    return prepared


def run_sources(
    prepared: list[tuple[SourceSpec, DltSource]],
    *,
    destination: str = "duckdb",
    show_progress: bool = False,
) -> RunReport:
    """Run each source in turn; a failing source is reported and the others still run."""
    RUN_STATS.reset()
    started = time.monotonic()
    results = [_run_one(spec, source, destination, show_progress) for spec, source in prepared]
    return RunReport(results, RUN_STATS.snapshot(), time.monotonic() - started)


def _run_one(spec: SourceSpec, source: DltSource, destination: str, show_progress: bool) -> SourceResult:
    started = time.monotonic()
    progress = dlt.progress.log(log_period=15, logger=sys.stderr, dump_system_stats=False) if show_progress else None
    pipeline = make_pipeline(spec.name, destination, progress=progress)
    try:
        info = pipeline.run(source, loader_file_format=LOADER_FILE_FORMAT[destination])
    except Exception as exc:  # one sentence for the user; the traceback only at DEBUG
        log.debug("%s failed", spec.name, exc_info=True)
        return SourceResult(spec.name, False, {}, describe_failure(spec.name, exc), time.monotonic() - started)
    return SourceResult(spec.name, True, loaded_rows(pipeline, info.loads_ids), None, time.monotonic() - started)


def describe_failure(source: str, exc: BaseException) -> str:
    """Our own errors already read as one sentence; anything else gets a redacted one-line summary."""
    ours = find_cause(exc, MarketingEltError)
    if ours is not None:
        return f"{source}: {ours}"
    root = exc.exception if isinstance(exc, PipelineStepFailed) else exc
    step = f" during {exc.step}" if isinstance(exc, PipelineStepFailed) else ""
    text = redact(str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__)
    return f"{source} failed{step}: {type(root).__name__}: {text[:300]} (rerun with --log-level DEBUG for details)."


def find_cause(exc: BaseException | None, kind: type[BaseException]) -> Any:
    """Walk dlt's wrappers (PipelineStepFailed, ResourceExtractionError, ...) down to an exception of `kind`."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, kind):
            return exc
        exc = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
    return None


def loaded_rows(pipeline: dlt.Pipeline, load_ids: list[str]) -> dict[str, int]:
    """Rows each table holds from this run's loads, counted in the warehouse.

    dlt's normalize counts include rows a merge never keeps (the Leads child tables' replacement
    markers), so the summary asks the warehouse; a table without `_dlt_load_id` keeps dlt's count.
    """
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace else None
    counts = {t: n for t, n in (info.row_counts.items() if info else ()) if not t.startswith("_dlt")}
    if not load_ids or not counts:
        return counts
    placeholders = ", ".join(["%s"] * len(load_ids))
    with pipeline.sql_client() as client:
        for table in counts:
            sql = (
                f"SELECT COUNT(*) FROM {client.make_qualified_table_name(table)} WHERE _dlt_load_id IN ({placeholders})"
            )
            try:
                counts[table] = int(client.execute_sql(sql, *load_ids)[0][0])
            except Exception:  # no _dlt_load_id column: dlt's own count stands
                log.debug("could not count %s by load id", table, exc_info=True)
    return counts
