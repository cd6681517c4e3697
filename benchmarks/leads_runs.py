"""The timed Leads loads, each run in its own process by `benchmarks.leads_load` (see workers.py).

- ``dlt``: the real `hubspot_leads` source over HTTP from the (replaying) sandbox into a fresh DuckDB file,
  `loader_file_format="parquet"`, the CLI's arrow defaults, "now" pinned to the sandbox's night. The
  HubSpot client's shared rate limiter (190 requests / 10 s) is replaced by an unlimited one in this
  process only: at the real limit ~1,000 pages take >= 53 s whatever our code does, and the point here is
  the cost of our code. Timed: `pipeline.run()` (extract, normalize, load), not interpreter start. With
  ``reload``, a second pipeline (fresh state, same warehouse) then loads the same leads again: every row
  is already stored, so that load is a real merge (delete, insert) over them, as an overlapping backfill.
  The first load appends, exactly once (sources/hubspot/leads_first_load.py); with ``merge``, the destination
  lacks exactly-once appends, so it merges as it did before (`merging_destination`): what the merge costs.
  The extract step is split by timers around the source's own functions (`TIMED`); what is left of it is
  dlt's (incremental, schema inference, parquet writing).
- ``native``: DuckDB alone, `read_ndjson` of the same records then UNNEST into the same three tables
  (with the same parent keys: `lead_guid`, `position`, `conversion_guid`, `event_position`). Types are
  what `read_ndjson` infers (epoch ms stay BIGINT, nested objects stay STRUCTs): the reference for
  "how fast could this machine possibly load these rows". Timed: the SQL, not connecting.

Both report their CPU seconds (user + system, DuckDB's threads included) beside the wall time: on a shared
machine the wall time of one run also measures its neighbours.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.workers import emit, peak_rss_mb

LEADS = "hubspot_leads"
EVENTS = "hubspot_leads__lead_conversion_events"
VALUES = "hubspot_leads__lead_conversion_events__form_submission_values"
TABLES = (LEADS, EVENTS, VALUES)
DATASET = "marketing"
# Parts of the extract step timed by wrapping the source's functions: (label, module, attribute). They run
# one after another in the extracting thread; what is left of the step is dlt's own work.
# Requests and the decoding of their pages into arrow run in the slices' worker threads
# (sources/hubspot/leads_slices.py), side by side with each other and with the extracting thread; what the
# extracting thread spends on them is its wait for the next page.
WAITING = "waiting for pages (HTTP + decoding into arrow, slices side by side)"
TIMED = (
    (WAITING, "sources.hubspot.leads", "range_pages"),
    ("pages orjson decoded, to arrow (the fallback)", "sources.hubspot.leads_batches", "page_to_arrow"),
    ("three tables", "sources.hubspot.leads", "nested_to_tables"),
)

NATIVE_SQL = (
    "CREATE SCHEMA {dataset}",
    "CREATE TEMP TABLE raw_leads AS SELECT * FROM read_ndjson({path})",
    f"CREATE TABLE {{dataset}}.{LEADS} AS SELECT * EXCLUDE (leadConversionEvents) FROM raw_leads",
    "CREATE TEMP TABLE raw_events AS SELECT guid AS lead_guid,"
    " generate_subscripts(leadConversionEvents, 1) - 1 AS position, UNNEST(leadConversionEvents) AS ev"
    " FROM raw_leads",
    f"CREATE TABLE {{dataset}}.{EVENTS} AS SELECT * EXCLUDE (formSubmissionValues)"
    " FROM (SELECT lead_guid, position, UNNEST(ev) FROM raw_events)",
    f"CREATE TABLE {{dataset}}.{VALUES} AS SELECT lead_guid, conversion_guid, event_position, position, UNNEST(v)"
    " FROM (SELECT lead_guid, ev.guid AS conversion_guid, position AS event_position,"
    " generate_subscripts(ev.formSubmissionValues, 1) - 1 AS position, UNNEST(ev.formSubmissionValues) AS v"
    " FROM raw_events)",
)


def count_rows(db: Path) -> dict[str, int]:
    """Rows per table of the dataset, for checking both loads against the sandbox's own count. Tombstone
    rows are not counted (neither the merge nor the first load's append inserts them: a check, not a filter)."""
    with duckdb.connect(str(db), read_only=True) as con:
        columns = {
            r[0]
            for r in con.execute("SELECT table_name FROM duckdb_columns() WHERE column_name = '_tombstone'").fetchall()
        }
        return {
            t: con.execute(
                f"SELECT COUNT(*) FROM {DATASET}.{t}" + (" WHERE NOT _tombstone" if t in columns else "")
            ).fetchone()[0]  # type: ignore[index]
            for t in TABLES
        }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Timers:
    """Wall time the extracting thread spends inside some functions (and waiting on `WAITING`'s pages), by label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, label: str, module_name: str, attribute: str) -> None:
        import importlib

        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original: Callable[..., Any] = getattr(owner, name)
        self.seconds[label] = 0.0

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
            return self._timed_iterator(label, result) if label == WAITING else result

        setattr(owner, name, timed)

    def _timed_iterator(self, label: str, items: Any) -> Any:
        """`items`, with the time the caller waits on each next item added to `label`."""
        iterator = iter(items)
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                self.seconds[label] += time.perf_counter() - started
            yield item


def merging_destination(db: Path) -> Any:
    """The project's DuckDB destination without exactly-once appends: the Leads first load then merges, as it
    did before (sources/hubspot/leads_first_load.py). A measurement of what the merge costs."""
    import dlt
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    from pipelines.warehouse import apply_load_defaults, duckdb_global_config

    apply_load_defaults()
    return dlt.destinations.duckdb(credentials=DuckDbCredentials(str(db), global_config=duckdb_global_config()))


class _Counter:
    """Requests sent (from any thread) since the last `pop`."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def add(self) -> None:
        with self.lock:
            self.count += 1

    def pop(self) -> int:
        with self.lock:
            count, self.count = self.count, 0
        return count


def count_requests() -> _Counter:
    """Count every vendor request of this process (the client's one entry point)."""
    from sources.common.client import ApiClient

    counter, send = _Counter(), ApiClient.request_decoded

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        counter.add()
        return send(self, *args, **kwargs)

    ApiClient.request_decoded = counted  # type: ignore[method-assign]
    return counter


def _steps(pipeline: Any) -> dict[str, float]:
    return {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in pipeline.last_trace.steps
        if step.step in ("extract", "normalize", "load")
    }


def dlt_run(args: dict[str, Any]) -> dict[str, Any]:
    import dlt
    import pendulum

    import sources.hubspot.client as hubspot_client
    from pipelines.warehouse import duckdb_destination
    from sources.common import clock
    from sources.common.arrow import ensure_dlt_columns_on_arrow
    from sources.common.ratelimit import RateLimiter
    from sources.hubspot import hubspot_leads

    ensure_dlt_columns_on_arrow()  # as the CLI
    if not args.get("rate_limited"):
        hubspot_client._LIMITER = RateLimiter(10**9, 1.0)  # see the module docstring
    if "slice_workers" in args:  # the slices benchmark: sequential (1) against side by side
        from sources.hubspot import leads_slices

        leads_slices.WORKERS = int(args["slice_workers"])
    requests = count_requests()
    timers = Timers()
    for label, module_name, attribute in TIMED:
        timers.wrap(label, module_name, attribute)
    workdir = Path(args["workdir"])
    db = workdir / "warehouse.duckdb"

    def one_run(name: str) -> dict[str, Any]:
        pipeline = dlt.pipeline(
            pipeline_name=name,
            destination=merging_destination(db) if args.get("merge") else duckdb_destination(db),  # as the CLI
            dataset_name=DATASET,
            pipelines_dir=str(workdir / name),
        )
        for label in timers.seconds:
            timers.seconds[label] = 0.0
        with clock.pinned(pendulum.parse(args["now"])):
            source = hubspot_leads(access_token=args["token"], base_url=args["base_url"], start_date=args["start_date"])
            cpu, started = cpu_seconds(), time.perf_counter()
            pipeline.run(source, loader_file_format="parquet")
            elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        steps = _steps(pipeline)
        dispositions = {pipeline.default_schema.tables[t]["write_disposition"] for t in TABLES}
        parts = dict(timers.seconds)
        parts["dlt's extract (incremental, schemas, parquet writes)"] = steps.get("extract", 0.0) - sum(parts.values())
        return {
            "seconds": elapsed,
            "cpu_seconds": cpu,
            "steps": steps,
            "extract_parts": parts,
            "dispositions": sorted(dispositions),
            "requests": requests.pop(),
        }

    result = one_run("bench_hubspot_leads")
    result["rows"] = count_rows(db)
    result["peak_rss_mb"] = peak_rss_mb()
    if args.get("reload"):
        again = one_run("bench_hubspot_leads_reload")
        again["rows"] = count_rows(db)
        result["reload"] = again
    return result


def native_run(args: dict[str, Any]) -> dict[str, Any]:
    db = Path(args["workdir"]) / "native.duckdb"
    path = "'" + str(args["jsonl"]).replace("'", "''") + "'"
    with duckdb.connect(str(db)) as con:
        cpu, started = cpu_seconds(), time.perf_counter()
        for statement in NATIVE_SQL:
            con.execute(statement.format(dataset=DATASET, path=path))
        con.execute("CHECKPOINT")  # the rows are on disk, as after dlt's load
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {"seconds": elapsed, "cpu_seconds": cpu, "rows": count_rows(db), "peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    worker_args = json.loads(sys.argv[1])
    emit((dlt_run if worker_args["kind"] == "dlt" else native_run)(worker_args))
