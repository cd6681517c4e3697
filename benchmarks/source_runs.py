"""One `marketing-elt` run (nightly or backfill) of the selected sources, in a fresh process, timed.

The worker does what `marketing-elt run` does after its checks (`prepare` + `run_sources` with the run lock
left out: each benchmark run has its own data dir and warehouse), with "now" pinned, and reports:
- `seconds`: `run_sources` (every source's reconcile, extract, normalize, load, ledger; the views refresh);
- `process_seconds`: the whole process from interpreter start, imports and source building included;
- per source: outcome, rows per table, seconds, and the requests the run ledger recorded for it.

Variants: `parallel` (sources side by side, as shipped) or one after another; `one_request_at_a_time` also
sets every `*WORKERS` constant of the vendor settings to 1 and lets one HTTP attempt be in flight at a time
(the caller sets dlt's extract pool to one worker, `EXTRACT__WORKERS=1`): "sequential extraction", every
request waits for the one before it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_PROCESS_STARTED = time.perf_counter()

SOURCES = ("hubspot_analytics", "hubspot_leads", "attributionhub", "humblytics")
SECTIONS = ("HUBSPOT", "ATTRIBUTIONHUB", "HUMBLYTICS")


def environment(base_url: str, workdir: Path, start_date: str, *, parallel: bool) -> dict[str, str]:
    """What an operator sets: every source at the sandbox, its own data dir and DuckDB file."""
    from sandbox.core import SandboxConfig

    config = SandboxConfig()
    env = {
        "SOURCES__HUBSPOT__ACCESS_TOKEN": config.hubspot_token,
        "SOURCES__HUBSPOT__BASE_URL": base_url,
        "SOURCES__ATTRIBUTIONHUB__API_KEY": config.attributionhub_key,
        "SOURCES__ATTRIBUTIONHUB__BASE_URL": base_url,
        "SOURCES__HUMBLYTICS__API_KEY": config.humblytics_key,
        "SOURCES__HUMBLYTICS__PROPERTY_ID": config.humblytics_property,
        "SOURCES__HUMBLYTICS__BASE_URL": base_url + "/api/external/v1",
        "DLT_DATA_DIR": str(workdir / "dlt"),
        "DESTINATION__DUCKDB__CREDENTIALS": str(workdir / "warehouse.duckdb"),
        "MARKETING_ELT__PARALLEL_SOURCES": "true" if parallel else "false",
    }
    env.update({f"SOURCES__{section}__START_DATE": start_date for section in SECTIONS})
    return env


def one_request_at_a_time() -> None:
    """Every fan-out of the sources down to one worker (the constants are read when a run starts), and one
    HTTP attempt in flight in the whole process: resources that dlt runs side by side, and fan-outs that
    prefetch while the extract thread serves another resource, wait for each other too."""
    import threading

    from sources.attributionhub import settings as attributionhub
    from sources.common.client import ApiClient
    from sources.hubspot import settings as hubspot
    from sources.humblytics import settings as humblytics

    for module in (hubspot, attributionhub, humblytics):
        for name in dir(module):
            if name.endswith("WORKERS") and isinstance(getattr(module, name), int):
                setattr(module, name, 1)
    attempt = ApiClient._attempt
    in_flight = threading.Lock()

    def alone(self: ApiClient, *args: Any, **kwargs: Any) -> Any:
        with in_flight:
            return attempt(self, *args, **kwargs)

    ApiClient._attempt = alone  # type: ignore[method-assign]


def worker(args: dict[str, Any]) -> dict[str, Any]:
    import pendulum

    from pipelines.ledger import TABLE
    from pipelines.registry import SOURCES as SPECS
    from pipelines.runner import prepare, run_sources
    from pipelines.source_run import RunContext
    from pipelines.validation import DateRange
    from sources.common import clock

    if args.get("one_request_at_a_time"):
        one_request_at_a_time()
    backfill = None
    if args.get("backfill"):
        first, last = (pendulum.Date.fromisoformat(day) for day in args["backfill"])
        backfill = DateRange(first, last)
    with clock.pinned(pendulum.parse(args["now"])):
        prepared = prepare([SPECS[name] for name in args["sources"]], backfill)
        started = time.perf_counter()
        report = run_sources(prepared, destination="duckdb", context=RunContext(command="bench", backfill=backfill))
        seconds = time.perf_counter() - started
    import duckdb

    with duckdb.connect(os.environ["DESTINATION__DUCKDB__CREDENTIALS"], read_only=True) as con:
        ledger = con.execute(
            f"SELECT source, requests FROM marketing.{TABLE} WHERE command = 'bench' ORDER BY finished_at DESC"
        ).fetchall()
    requests: dict[str, int] = {}
    for source, count in ledger:
        requests.setdefault(source, int(count))  # the latest run's row
    return {
        "seconds": seconds,
        "process_seconds": time.perf_counter() - _PROCESS_STARTED,
        "ok": report.ok,
        "errors": [r.error for r in report.results if not r.ok],
        "rows": {r.name: dict(r.rows) for r in report.results},
        "source_seconds": {r.name: r.elapsed_s for r in report.results},
        "ledger_requests": requests,
    }


if __name__ == "__main__":
    from benchmarks.workers import emit

    emit(worker(json.loads(sys.argv[1])))
