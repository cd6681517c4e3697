"""`python -m benchmarks [--quick | --million]` (`make bench`, `make bench-quick`, `make bench-1m`).

Figures, not tests: nothing here passes or fails on a threshold. The table goes to stdout (progress to
stderr) and, as JSON with the machine it was measured on, to benchmarks/results/<UTC timestamp>.json.
Full mode stays under 10 minutes on 2 cores, --quick under 1 minute; timings are medians of >= 3 runs, except
the 3- and 12-month loads (one each; they are the history benchmark's scaling check beside the 1-month median)
and everything in --quick that would not fit its minute three times (the four sources' nightly, the Leads slices).
--million is issue 19's target 2 alone (peak RSS of first loads of 100,000 and 1,000,000 leads, 3 runs
each): about 10 minutes by itself, so it has its own make target instead of stretching `make bench`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import pendulum

from benchmarks import four_sources, history, leads_load, leads_slices, sandbox_throughput
from benchmarks.report import RESULTS_DIR, Figure, format_table, write_results


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does in one mode."""

    runs: int
    slices_runs: int
    throughput_seconds: float
    leads: int
    leads_variants: bool
    four_sources: four_sources.Plan
    history: history.Plan


FULL = Sizes(
    runs=3,
    slices_runs=3,
    throughput_seconds=3.0,
    leads=100_000,
    leads_variants=True,
    four_sources=four_sources.FULL,
    history=history.FULL,
)
# Quick: the same benchmarks, smaller; the Leads re-load (merge) and merged first load, the sequential
# extraction baseline and the 3- and 12-month loads (with the nightly after a year) only run in full mode.
QUICK = Sizes(
    runs=3,
    slices_runs=1,
    throughput_seconds=0.5,
    leads=10_000,
    leads_variants=False,
    four_sources=four_sources.QUICK,
    history=history.QUICK,
)
MILLION = (100_000, 1_000_000)  # --million: the worlds whose first loads' peak RSS are compared
THROUGHPUT_TARGET = 1_000  # requests/s (benchmarks/sandbox_throughput.py)


def _echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def throughput_figures(sizes: Sizes) -> list[Figure]:
    """requests/s over one keep-alive connection and the server's CPU per request, per request kind."""
    result = sandbox_throughput.measure(sizes.throughput_seconds, repeats=sizes.runs, echo=None)
    bench = "sandbox throughput (1 keep-alive conn)"
    figures = []
    for kind in result.kinds:
        figures.append(
            Figure(bench, f"{kind.name}: requests/s", kind.requests_per_s, "req/s", f"target >= {THROUGHPUT_TARGET:,}")
        )
        if kind.server_cpu_us:
            figures.append(
                Figure(bench, f"{kind.name}: server CPU", kind.server_cpu_us, "us/req", "server pinned to one core")
            )
    _echo(f"throughput: {', '.join(f'{k.name} {max(k.requests_per_s):,.0f}/s' for k in result.kinds)} (best runs)")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--quick", action="store_true", help="smaller sizes: under a minute")
    modes.add_argument("--million", action="store_true", help="Leads memory at 100,000 and 1,000,000 leads only")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started_utc = pendulum.now("UTC")
    started = time.perf_counter()
    steps: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("sandbox throughput", lambda: throughput_figures(sizes)),
        (
            "leads load",
            lambda: leads_load.run(
                sizes.leads, sizes.runs, _echo, reload=sizes.leads_variants, merged=sizes.leads_variants
            ),
        ),
        ("leads slices", lambda: leads_slices.run(sizes.slices_runs, _echo)),
        ("four sources under latency", lambda: four_sources.run(sizes.four_sources, _echo)),
        ("history: scaling and the nightly's requests", lambda: history.run(sizes.history, _echo)),
    ]
    if args.million:
        steps = [("leads memory", lambda: leads_load.memory(MILLION, FULL.runs, _echo))]
    figures: list[Figure] = []
    failed = []
    for name, step in steps:
        _echo(f"== {name}")
        began = time.perf_counter()
        try:
            figures += step()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            _echo(f"{name} FAILED: {type(exc).__name__}: {exc}")
        _echo(f"== {name}: {time.perf_counter() - began:.0f} s")  # where the mode's time budget goes
    elapsed = time.perf_counter() - started
    mode = "quick" if args.quick else "million" if args.million else "full"
    print(f"\nmarketing-elt benchmarks ({mode}, {elapsed:.0f} s; medians of the runs shown)\n")
    print(format_table(figures))
    path = RESULTS_DIR / f"{started_utc.format('YYYYMMDD[T]HHmmss[Z]')}.json"
    write_results(path, mode=mode, started_utc=started_utc.isoformat(), elapsed_s=elapsed, figures=figures)
    print(f"\nwritten to {path.relative_to(RESULTS_DIR.parents[1])}")
    if failed:
        print(f"error: {', '.join(failed)} failed; see the messages above.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
