"""Leads time slices paged side by side against one slice after another (`make bench`, issue 19 target 3).

A first load of two months with every request answered in 100 ms and HubSpot's rate limiter on, as shipped;
each load in a fresh process (benchmarks/leads_runs.py). Both ways must load the same rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

from benchmarks.leads_load import HISTORY_DAYS, TODAY, dlt_args, settings_env
from benchmarks.report import Figure
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.workers import run_worker

SLICES_LATENCY_MS = 100  # issue 19, target 3: the vendors answering in 100 ms
SLICES_DAYS = 60  # a first load of two months
SLICES_WORLD = {"today": TODAY.isoformat(), "history_days": HISTORY_DAYS}  # the sandbox's default 20 leads a day


def run(runs: int, echo: Callable[[str], None]) -> list[Figure]:
    """Leads time slices paged side by side (sources/hubspot/leads_slices.py) against one slice after another:
    a first load of two months with every request answered in 100 ms, HubSpot's rate limiter on (as shipped),
    alternating, each in a fresh process. Both must load the same rows."""
    from sources.hubspot import leads_slices

    env, _ = settings_env()
    start = TODAY.subtract(days=SLICES_DAYS).isoformat()
    results: dict[str, list[dict[str, Any]]] = {"sequential": [], "side by side": []}
    with (
        tempfile.TemporaryDirectory(prefix="bench-leads-slices-") as tmp,
        SandboxProcess(**SLICES_WORLD, latency_ms=SLICES_LATENCY_MS) as sandbox,
    ):
        for i in range(runs):
            for kind, workers in (("sequential", 1), ("side by side", leads_slices.WORKERS)):
                args = dlt_args(
                    tmp, f"slices-{workers}-{i}", sandbox.base_url, slice_workers=workers, rate_limited=True
                )
                result = run_worker("benchmarks.leads_runs", {**args, "start_date": start}, env=env)
                results[kind].append(result)
            sequential, side = results["sequential"][-1], results["side by side"][-1]
            if sequential["rows"] != side["rows"]:
                raise RuntimeError(f"slices side by side loaded {side['rows']}, one after another {sequential['rows']}")
            echo(
                f"leads slices: run {i + 1}/{runs}: one after another {sequential['seconds']:.2f} s "
                f"({sequential['requests']} requests), side by side {side['seconds']:.2f} s ({side['requests']})"
            )
    bench = f"leads: first load of {SLICES_DAYS} days, {SLICES_LATENCY_MS} ms a request"
    workers = leads_slices.WORKERS
    figures = []
    for kind, samples in results.items():
        figures += [
            Figure(
                bench, f"slices {kind}: wall", [r["seconds"] for r in samples], "s", "pipeline.run(), rate limiter on"
            ),
            Figure(bench, f"slices {kind}: extract step", [r["steps"]["extract"] for r in samples], "s"),
            Figure(bench, f"slices {kind}: requests", [float(r["requests"]) for r in samples], "req"),
        ]
    side = results["side by side"]
    figures += [
        Figure(
            bench,
            "slices side by side: speed-up of the extract",
            [s["steps"]["extract"] / d["steps"]["extract"] for s, d in zip(results["sequential"], side, strict=True)],
            "x",
            f"{workers} slices in flight",
        ),
        Figure(
            bench,
            "slices side by side: latency bound",
            [r["requests"] * SLICES_LATENCY_MS / 1000 / workers for r in side],
            "s",
            f"requests x latency / {workers} in flight",
        ),
    ]
    return figures
