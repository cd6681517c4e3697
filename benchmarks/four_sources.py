"""Issue 19 target 3: the first nightly of all four sources against vendors that answer in 100 ms.

Why: extraction is bound by latency, not CPU (shared/performance-notes.md). The yardstick is the latency bound,
requests x latency / 8 requests in flight (each vendor's documented rate limit allows it: HubSpot 190 per
10 s; AttributionHub and Humblytics publish none), and the baseline is sequential extraction: sources one
after another and every request waiting for the one before it (`source_runs.one_request_at_a_time`).

- ``side by side``: as shipped; each run in a fresh process and a fresh warehouse (a first nightly); then
  a nightly whose `start_date` is today in another fresh warehouse: no day is complete, so it makes no
  request, and its time is the fixed cost of a run (imports, building the sources, a pipeline per source,
  the warehouse steps, the ledger, the views).
- ``sequential``: the baseline. Its runs make one request at a time and spend their time waiting, not
  computing, so the three go at once, each against its own sandbox (about 100 s instead of 300).

Requests are counted by the sandbox (``/_sandbox/stats``), not by our client.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum

from benchmarks.report import Figure
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.source_runs import SOURCES, environment
from benchmarks.workers import run_worker

TODAY = pendulum.date(2026, 11, 20)
NIGHT = pendulum.datetime(TODAY.year, TODAY.month, TODAY.day, 2, tz="UTC")
LATENCY_MS = 100
IN_FLIGHT = 8


@dataclass(frozen=True)
class Plan:
    days: int
    runs: int
    sequential_runs: int
    fixed_cost: bool  # run the same night again (nothing to read) after each first nightly


FULL = Plan(days=61, runs=3, sequential_runs=3, fixed_cost=True)  # two months: 2026-09-20 .. 2026-11-19
# Quick: one run (a smoke test of the figures, `make bench-quick` stays under a minute).
QUICK = Plan(days=7, runs=1, sequential_runs=0, fixed_cost=False)


def one_run(sandbox: SandboxProcess, workdir: Path, plan: Plan, *, parallel: bool) -> dict[str, Any]:
    """A first nightly (and, side by side, the same night again) into `workdir`; requests from the sandbox."""
    env = environment(sandbox.base_url, workdir, TODAY.subtract(days=plan.days).isoformat(), parallel=parallel)
    if not parallel:
        env["EXTRACT__WORKERS"] = "1"  # dlt's pool for `parallelized` resources: one at a time too
    args = {"now": NIGHT.isoformat(), "sources": list(SOURCES), "one_request_at_a_time": not parallel}
    sandbox.post("/_sandbox/reset")
    result: dict[str, Any] = run_worker("benchmarks.source_runs", args, env=env)
    result["requests"] = dict(sandbox.get_json("/_sandbox/stats")["by_vendor"])
    if parallel and plan.fixed_cost:  # start_date today: no day is complete, so no request is made
        elsewhere = workdir.with_name(workdir.name + "-empty")
        empty = environment(sandbox.base_url, elsewhere, TODAY.isoformat(), parallel=True)
        nothing = run_worker("benchmarks.source_runs", args, env=empty)
        result["fixed"] = nothing["process_seconds"]
        result["fixed_run"] = nothing["seconds"]
    return result


def run(plan: Plan, echo: Callable[[str], None]) -> list[Figure]:
    side: list[dict[str, Any]] = []
    sequential: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-four-") as tmp:
        with SandboxProcess(today=TODAY.isoformat(), latency_ms=LATENCY_MS) as sandbox:
            sandbox.post("/_sandbox/reset")
            for i in range(plan.runs):
                result = one_run(sandbox, Path(tmp) / f"side{i}", plan, parallel=True)
                side.append(result)
                echo(
                    f"four sources: side by side {i + 1}/{plan.runs}: {result['seconds']:.1f} s, "
                    f"{sum(result['requests'].values())} requests"
                )

        def baseline(i: int) -> dict[str, Any]:
            with SandboxProcess(today=TODAY.isoformat(), latency_ms=LATENCY_MS) as own:
                return one_run(own, Path(tmp) / f"sequential{i}", plan, parallel=False)

        if plan.sequential_runs:
            with ThreadPoolExecutor(max_workers=plan.sequential_runs) as pool:
                sequential = list(pool.map(baseline, range(plan.sequential_runs)))
            walls = ", ".join(f"{r['seconds']:.1f} s" for r in sequential)
            echo(f"four sources: sequential: {walls}")
    return figures(plan, side, sequential)


def figures(plan: Plan, side: list[dict[str, Any]], sequential: list[dict[str, Any]]) -> list[Figure]:
    bench = f"first nightly, 4 sources, {plan.days} days, {LATENCY_MS} ms latency"
    requests = [float(sum(r["requests"].values())) for r in side]
    bounds = [n * LATENCY_MS / 1000 / IN_FLIGHT for n in requests]
    per_vendor = ", ".join(f"{v} {n}" for v, n in sorted(side[0]["requests"].items()))
    ok = all(r["ok"] for r in side + sequential)
    out = [
        Figure(bench, "requests", requests, "requests", per_vendor + ("" if ok else "; A RUN FAILED")),
        Figure(bench, f"latency bound (requests x {LATENCY_MS} ms / {IN_FLIGHT})", bounds, "s"),
        Figure(bench, "side by side: run", [r["seconds"] for r in side], "s", "every step of every source"),
        Figure(
            bench,
            "side by side: run / latency bound",
            [r["seconds"] / b for r, b in zip(side, bounds, strict=True)],
            "x",
            "issue 19 target 3: <= 1.3",
        ),
        Figure(bench, "side by side: process", [r["process_seconds"] for r in side], "s", "imports included"),
    ]
    if plan.fixed_cost:
        runs = [r["fixed_run"] for r in side]
        out.append(
            Figure(
                bench,
                "fixed cost: a nightly with nothing to read",
                [r["fixed"] for r in side],
                "s",
                f"the process; its run_sources {min(runs):.2f}-{max(runs):.2f} s",
            )
        )
    if sequential:
        out += [
            Figure(bench, "sequential extraction: run", [r["seconds"] for r in sequential], "s", "1 request at a time"),
            Figure(
                bench,
                "speed-up: sequential / side by side",
                [s["seconds"] / p["seconds"] for s, p in zip(sequential, side, strict=False)],
                "x",
                "issue 19 target 3: >= 6",
            ),
        ]
    return out
