"""Issue 19 targets 5 and 4: backfills of 1, 3 and 12 months, then one night on the year-old warehouse.

- Scaling: wall time of a first load of N months of all four sources (a nightly whose `start_date` is N
  months back: the same requests and loads as `backfill` of that range, and it leaves a warehouse whose
  cursors a nightly continues), against a sandbox without latency, so the figure is our work plus the
  vendors' rate limits (Humblytics' own budget, 100 requests a second, is most of a year). Seconds per
  month of data should not grow with the months.
- Economy: the next night on the 12-month warehouse. Its requests per vendor are compared with the minimum
  `economy.minimum` derives from the vendor documents, the data, and each source's lookback; a year of
  backfill's requests per vendor are the same run's.

Requests are counted by the sandbox (``/_sandbox/stats``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum

from benchmarks import economy
from benchmarks.report import Figure
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.source_runs import SOURCES, environment
from benchmarks.workers import run_worker

TODAY = pendulum.date(2026, 11, 20)


@dataclass(frozen=True)
class Plan:
    months: tuple[int, ...]
    runs: dict[int, int]  # months -> runs


# The 3- and 12-month loads once each: together they are 90 s of `make bench`'s 10 minutes.
FULL = Plan(months=(1, 3, 12), runs={1: 3, 3: 1, 12: 1})
QUICK = Plan(months=(1,), runs={1: 1})


def night(day: pendulum.Date) -> pendulum.DateTime:
    return pendulum.datetime(day.year, day.month, day.day, 2, tz="UTC")


def first_load(sandbox: SandboxProcess, workdir: Path, months: int) -> dict[str, Any]:
    start = TODAY.subtract(months=months)
    env = environment(sandbox.base_url, workdir, start.isoformat(), parallel=True)
    sandbox.post("/_sandbox/reset")
    sandbox.post("/_sandbox/clock", {"today": TODAY.isoformat()})
    result: dict[str, Any] = run_worker(
        "benchmarks.source_runs", {"now": night(TODAY).isoformat(), "sources": list(SOURCES)}, env=env
    )
    result["days"] = TODAY.diff(start).in_days()
    result["requests"] = dict(sandbox.get_json("/_sandbox/stats")["by_vendor"])
    result["env"] = env
    return result


def next_night(sandbox: SandboxProcess, loaded: dict[str, Any]) -> dict[str, Any]:
    tomorrow = TODAY.add(days=1)
    sandbox.post("/_sandbox/reset")
    sandbox.post("/_sandbox/clock", {"today": tomorrow.isoformat()})
    result: dict[str, Any] = run_worker(
        "benchmarks.source_runs", {"now": night(tomorrow).isoformat(), "sources": list(SOURCES)}, env=loaded["env"]
    )
    result["requests"] = dict(sandbox.get_json("/_sandbox/stats")["by_vendor"])
    return result


def run(plan: Plan, echo: Callable[[str], None]) -> list[Figure]:
    samples: dict[int, list[dict[str, Any]]] = {m: [] for m in plan.months}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp, SandboxProcess(today=TODAY.isoformat()) as sb:
        for months in plan.months:
            for i in range(plan.runs[months]):
                result = first_load(sb, Path(tmp) / f"m{months}-{i}", months)
                samples[months].append(result)
                echo(
                    f"history: {months} month(s) {i + 1}/{plan.runs[months]}: {result['seconds']:.1f} s, "
                    f"{sum(result['requests'].values())} requests"
                )
        longest = samples[max(plan.months)][-1]
        nightly = next_night(sb, longest)
        warehouse = Path(longest["env"]["DESTINATION__DUCKDB__CREDENTIALS"])
        changed = int(nightly["rows"].get("hubspot_leads", {}).get("hubspot_leads", 0))
        minimum = economy.minimum(warehouse, night(TODAY.add(days=1)), changed)
        echo(f"history: the next night: {nightly['requests']} requests")
    return scaling_figures(samples) + economy_figures(max(plan.months), longest, nightly, minimum)


def scaling_figures(samples: dict[int, list[dict[str, Any]]]) -> list[Figure]:
    bench = "first load (backfill) of 4 sources, no latency"
    out = []
    for months, runs in samples.items():
        days = runs[0]["days"]
        out += [
            Figure(bench, f"{months} month(s) = {days} days: run", [r["seconds"] for r in runs], "s"),
            Figure(
                bench,
                f"{months} month(s): per 30 days of data",
                [r["seconds"] * 30 / days for r in runs],
                "s",
                "issue 19 target 5: flat as months grow",
            ),
        ]
    return out


def economy_figures(
    months: int, loaded: dict[str, Any], nightly: dict[str, Any], minimum: dict[str, economy.Minimum]
) -> list[Figure]:
    bench = f"one nightly on a {months}-month-old warehouse (issue 19 target 4: <= 1.1x the minimum)"
    out = []
    for source in SOURCES:
        spent = nightly["requests"].get(source, 0)
        least = minimum[source]
        out.append(
            Figure(
                bench,
                f"{source}: requests / minimum",
                [spent / least.requests],
                "x",
                f"{spent} requests, minimum {least.requests}: {least.why}",
            )
        )
    year = ", ".join(f"{source} {loaded['requests'].get(source, 0)}" for source in SOURCES)
    out.append(
        Figure(
            f"requests of a {months}-month backfill",
            "all sources",
            [float(sum(loaded["requests"].values()))],
            "requests",
            year,
        )
    )
    return out
