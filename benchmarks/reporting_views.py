"""`python -m benchmarks.reporting_views`: how fast each reporting view answers on a year of sandbox data.

A figure, not a test (issue 17: each view should answer in under a second on a year in DuckDB). Loads every
source for 365 days from an in-process sandbox into a throwaway DuckDB file with the real CLI (the load is
not timed), refreshes the views, then times `SELECT * FROM reporting.<view>` fetched in full, median of 5
runs on a warm connection, and the HTML report. Prints one table; `--days N` for a shorter world.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pendulum

TODAY = pendulum.date(2026, 11, 20)
NIGHT = pendulum.datetime(2026, 11, 20, 2, tz="UTC")
RUNS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    from pipelines.cli import main as cli
    from pipelines.demo import sandbox_env
    from pipelines.reporting import refresh_views
    from pipelines.reporting.settings import VIEWS
    from sandbox.core import SandboxConfig
    from sandbox.server import SandboxServer
    from sources.common import clock

    start = TODAY.subtract(days=args.days).isoformat()
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(SandboxConfig(today=TODAY, history_days=400)) as server:
        db = Path(tmp) / "warehouse.duckdb"
        os.environ.update(sandbox_env(server, server.config))
        os.environ.update(
            {
                "DESTINATION__DUCKDB__CREDENTIALS": str(db),
                "DLT_DATA_DIR": str(Path(tmp) / "dlt"),
                "SOURCES__HUBSPOT__START_DATE": start,
                "SOURCES__ATTRIBUTIONHUB__START_DATE": start,
                "SOURCES__HUMBLYTICS__START_DATE": start,
            }
        )
        loaded = time.perf_counter()
        with clock.pinned(NIGHT), contextlib.redirect_stdout(io.StringIO()):
            code = cli(["run", "--sources", "hubspot_analytics,hubspot_leads,attributionhub,humblytics"])
        if code != 0:
            print(f"the load failed (exit {code})", file=sys.stderr)
            return 1
        print(f"loaded {args.days} days of every source in {time.perf_counter() - loaded:.0f} s", file=sys.stderr)
        result = refresh_views("duckdb", raise_errors=True)
        print(result.notes[0], file=sys.stderr)

        rows = []
        with duckdb.connect(str(db), read_only=True) as con:
            for view in VIEWS:
                timings = []
                for _ in range(RUNS):
                    started = time.perf_counter()
                    count = len(con.execute(f"SELECT * FROM reporting.{view}").fetchall())
                    timings.append(time.perf_counter() - started)
                rows.append((view, count, statistics.median(timings), max(timings)))
        report = Path(tmp) / "report.html"
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            cli(["report", "--out", str(report)])
        report_s = time.perf_counter() - started

    print(f"{'view':<24}{'rows':>8}{'median ms':>12}{'max ms':>10}")
    for view, count, median, worst in rows:
        print(f"{view:<24}{count:>8}{median * 1000:>12.1f}{worst * 1000:>10.1f}")
    print(f"{'marketing-elt report':<24}{'':>8}{report_s * 1000:>12.0f}  (one run, {report.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
