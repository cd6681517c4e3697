"""`make demo`: the sandbox on a free port, the nightly for every built source, a table of what landed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sandbox.core import SandboxConfig
from sandbox.server import SandboxServer
from sources.common import clock

from .lock import run_lock
from .preflight import check_warehouse, check_warehouse_location
from .registry import SOURCES, available_sources
from .report import format_run_report, landed, table
from .runner import prepare, run_sources
from .source_run import RunContext, make_pipeline
from .warehouse import duckdb_path

# The demo's pipeline state always lives here, never in the DLT_DATA_DIR of real runs: sandbox cursors
# must not replace a production pipeline's.
DEMO_DATA_DIR = ".dlt_demo"


def sandbox_env(server: SandboxServer, config: SandboxConfig) -> dict[str, str]:
    """The env vars a user would set, pointing every source at the sandbox with its demo credentials."""
    return {
        "SOURCES__HUBSPOT__ACCESS_TOKEN": config.hubspot_token,
        "SOURCES__HUBSPOT__BASE_URL": server.url_for("hubspot_analytics"),
        "SOURCES__ATTRIBUTIONHUB__API_KEY": config.attributionhub_key,
        "SOURCES__ATTRIBUTIONHUB__BASE_URL": server.url_for("attributionhub"),
        "SOURCES__HUMBLYTICS__API_KEY": config.humblytics_key,
        "SOURCES__HUMBLYTICS__PROPERTY_ID": config.humblytics_property,
        "SOURCES__HUMBLYTICS__BASE_URL": server.url_for("humblytics"),
    }


def run_demo() -> int:
    config = SandboxConfig(today=clock.today())
    os.environ["DLT_DATA_DIR"] = os.path.abspath(DEMO_DATA_DIR)
    with SandboxServer(config=config, port=0) as server:
        print(f"sandbox on {server.base_url} (simulated today {config.today})", flush=True)
        os.environ.update(sandbox_env(server, config))
        specs = [SOURCES[name] for name in available_sources()]
        prepared = prepare(specs)
        context = RunContext(command="marketing-elt demo")
        # the demo writes ./warehouse.duckdb like a nightly would: the same lock and warehouse check
        check_warehouse_location("duckdb")
        with run_lock(Path(DEMO_DATA_DIR).absolute(), duckdb_path(), context.command):
            check_warehouse("duckdb")
            report = run_sources(prepared, destination="duckdb", show_progress=True, context=context)
    print(format_run_report(report))
    rows = [row for spec in specs for row in landed(make_pipeline(spec.name, "duckdb"))]
    print(f"\nWhat landed in {duckdb_path()}:\n")
    print(table(("table", "rows", "first", "last"), rows))
    if not report.ok:
        print("error: the demo run failed; see the messages above.", file=sys.stderr)
        return 1
    print("\nNext: `marketing-elt report --out report.html` writes one HTML page from the reporting views.")
    return 0
