"""Analytics nightly: requests and wall time of a first `hubspot_analytics` nightly (30 days, every default
report) against a sandbox that answers every request after 50 ms.

Why: extraction is bound by latency, not CPU (shared/performance-notes.md), so what a nightly costs is its
number of requests and how many of them are in flight at once. Two variants, each run in a fresh process
with a fresh pipeline (a first nightly) and the real HubSpot rate limits (client and sandbox):

- ``as shipped``: `parallelized=True` report resources and `settings.DRILL_WORKERS` drilldown threads;
- ``sequential``: the same code with dlt's extract pool at one worker (``EXTRACT__WORKERS=1``, config, not
  code) and `settings.DRILL_WORKERS = 1` set in the worker process: what the parallelism buys.

Requests are counted by the sandbox (``/_sandbox/stats``, reset before each run), not by our client.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum

from benchmarks.report import Figure
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.workers import emit, peak_rss_mb, run_worker

TODAY = pendulum.date(2026, 11, 20)
NIGHT = pendulum.datetime(TODAY.year, TODAY.month, TODAY.day, 2, tz="UTC")
DAYS = 30
LATENCY_MS = 50
TOKEN = "sandbox-hubspot-token"
VARIANTS: dict[str, dict[str, str]] = {"as shipped": {}, "sequential": {"EXTRACT__WORKERS": "1"}}


def worker(args: dict[str, Any]) -> dict[str, Any]:
    """One first nightly into a fresh DuckDB file; wall time of `pipeline.run()` and of its extract step."""
    import dlt

    from sources.common import clock
    from sources.common.arrow import ensure_dlt_columns_on_arrow
    from sources.hubspot import hubspot_analytics, settings

    if args["sequential"]:
        settings.DRILL_WORKERS = 1
    ensure_dlt_columns_on_arrow()
    workdir = Path(args["workdir"])
    db = workdir / "warehouse.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="bench_hubspot_analytics",
        destination=dlt.destinations.duckdb(str(db)),
        dataset_name="marketing",
        pipelines_dir=str(workdir / "dlt"),
    )
    with clock.pinned(pendulum.parse(args["now"])):
        source = hubspot_analytics(access_token=TOKEN, base_url=args["base_url"], start_date=args["start_date"])
        started = time.perf_counter()
        info = pipeline.run(source, loader_file_format="parquet")
        elapsed = time.perf_counter() - started
    extract = next(s for s in pipeline.last_trace.steps if s.step == "extract")
    rows = sum(n for t, n in pipeline.last_trace.last_normalize_info.row_counts.items() if not t.startswith("_dlt"))
    info.raise_on_failed_jobs()
    return {
        "seconds": elapsed,
        "extract_seconds": (extract.finished_at - extract.started_at).total_seconds(),
        "rows": rows,
        "peak_rss_mb": peak_rss_mb(),
    }


def run(
    runs: int,
    echo: Callable[[str], None],
    variants: tuple[str, ...] = tuple(VARIANTS),
    *,
    warm_up: bool = True,
) -> list[Figure]:
    """`runs` nightlies per variant, alternating, after an untimed warm-up (the sandbox builds its world
    on first use; measured here it made no difference, so --quick skips it to stay under a minute)."""
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    start_date = TODAY.subtract(days=DAYS).isoformat()
    with (
        tempfile.TemporaryDirectory(prefix="bench-analytics-") as tmp,
        SandboxProcess(today=TODAY.isoformat(), latency_ms=LATENCY_MS) as sandbox,
    ):

        def nightly(variant: str, name: str) -> dict[str, Any]:
            workdir = Path(tmp) / name
            workdir.mkdir()
            args = {
                "workdir": str(workdir),
                "base_url": sandbox.base_url,
                "start_date": start_date,
                "now": NIGHT.isoformat(),
                "sequential": variant == "sequential",
            }
            sandbox.post("/_sandbox/reset")  # stats and the sandbox's rate-limit window
            result = run_worker("benchmarks.analytics_nightly", args, env=VARIANTS[variant])
            stats = sandbox.get_json("/_sandbox/stats")
            result["requests"] = stats["by_vendor"].get("hubspot_analytics", 0)
            result["not_200"] = sum(n for status, n in stats["by_status"].items() if status != "200")
            return result

        if warm_up:
            warm = nightly(variants[0], "warm")
            echo(f"analytics: warm-up nightly {warm['seconds']:.1f} s, {warm['requests']} requests")
        for i in range(runs):
            for variant in variants:
                result = nightly(variant, f"{variant.replace(' ', '_')}{i}")
                results[variant].append(result)
                seconds, requests = result["seconds"], result["requests"]
                echo(f"analytics: run {i + 1}/{runs} {variant}: {seconds:.2f} s, {requests} requests")
    return _figures(results)


def _figures(results: dict[str, list[dict[str, Any]]]) -> list[Figure]:
    bench = f"analytics nightly: {DAYS} days, 11 reports, {LATENCY_MS} ms latency"
    figures = []
    for variant, runs in results.items():
        rows = sorted({r["rows"] for r in runs})
        errors = sum(r["not_200"] for r in runs)
        note = f"rows {'/'.join(map(str, rows))}" + (f", {errors} non-200 answers" if errors else "")
        figures += [
            Figure(bench, f"{variant}: wall", [r["seconds"] for r in runs], "s", "pipeline.run()"),
            Figure(bench, f"{variant}: extract step", [r["extract_seconds"] for r in runs], "s"),
            Figure(bench, f"{variant}: requests", [float(r["requests"]) for r in runs], "requests", note),
        ]
    return figures


if __name__ == "__main__":
    emit(worker(json.loads(sys.argv[1])))
