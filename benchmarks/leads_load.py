"""Leads: processing speed next to DuckDB-native (issue 19, target 1) and memory at scale (target 2).

shared/performance-notes.md says the cost of nested Leads payloads is in the loader, not in DuckDB or the
network, and gives DuckDB-native as the yardstick. `run()` measures both in one run:

1. A sandbox subprocess holds a world of ~N leads (`leads_per_day` x 400 days), HubSpot rate limit lifted,
   and replays cached answers (benchmarks/sandbox_proc.py).
2. Untimed: every lead is fetched with the source's own paging (the exact requests of the timed runs, so
   this fills the sandbox's replay cache) and written to a .jsonl file; it also gives the expected rows
   per table, and prices the sandbox's rendering of a page (its CPU, measured apart from the loader).
3. Timed, alternating, each in a fresh process (clean peak RSS): the dlt pipeline run (a first load),
   optionally followed in the same process by a re-load of the same leads through a second pipeline
   (every row already stored: a merge), and DuckDB's `read_ndjson` + UNNEST into the same three tables
   (benchmarks/leads_runs.py). Every run's row counts are checked against the export: a fast load of the
   wrong rows is no figure. The sandbox's CPU during each timed run is reported too (replays: small).

`memory()` (`make bench-1m`) loads worlds of 100,000 and 1,000,000 leads (a first load each, pages
rendered live: no replay cache, which would hold gigabytes) and reports the peak RSS of each and its growth.

Every dlt run uses the project's memory defaults, as the CLI applies them (README "Performance"): DuckDB's
`memory_limit` and `preserve_insertion_order` and dlt's load workers through the project's destination
(pipelines/warehouse.py), and the arrow pool through the env var the CLI sets before pyarrow is imported.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pendulum

from benchmarks.leads_runs import EVENTS, LEADS, TABLES, VALUES, count_rows
from benchmarks.report import Figure
from benchmarks.sandbox_proc import CACHE_PATH, SandboxProcess
from benchmarks.workers import run_worker

TODAY = pendulum.date(2026, 11, 20)  # the sandbox's usual simulated day (tests and throughput use it too)
NIGHT = pendulum.datetime(TODAY.year, TODAY.month, TODAY.day, 2, tz="UTC")  # the nightly's 02:00 UTC
HISTORY_DAYS = 400
TOKEN = "sandbox-hubspot-token"


def epoch_ms(at: pendulum.DateTime | pendulum.Date) -> int:
    if not isinstance(at, pendulum.DateTime):
        at = pendulum.datetime(at.year, at.month, at.day, tz="UTC")
    return int(at.timestamp() * 1000)


def settings_env() -> tuple[dict[str, str], str]:
    """Env for the dlt workers (the CLI's arrow pool default, which a worker does not get by itself) and a
    note saying which memory settings they ran with."""
    import dlt

    from pipelines.cli import ARROW_POOL_DEFAULT, ARROW_POOL_ENV
    from pipelines.warehouse import duckdb_global_config

    env = {ARROW_POOL_ENV: os.environ.get(ARROW_POOL_ENV, ARROW_POOL_DEFAULT)}
    duckdb = ", ".join(f"{k}={v}" for k, v in duckdb_global_config().items())
    workers = dlt.config.get("load.workers") or "1"
    return env, f"DuckDB {duckdb}; load workers={workers}; arrow pool {env[ARROW_POOL_ENV]}"


def export_jsonl(base_url: str, path: Path, start_ms: int, stop_ms: int) -> dict[str, int]:
    """Every lead the source will load, one JSON object a line; returns the rows per table.

    The pages come from the source's own paging (`sources.hubspot.leads.range_pages`, the very requests a
    nightly at `stop_ms` sends), so this one untimed pass also fills the sandbox's replay cache. The client
    has no rate limiter: the benchmark measures our code, not HubSpot's 190 requests / 10 s.
    """
    from sources.common.auth import QueryTokenAuth
    from sources.common.client import ApiClient
    from sources.hubspot import settings
    from sources.hubspot.leads import range_pages

    counts = dict.fromkeys(TABLES, 0)
    auth = QueryTokenAuth(settings.LEADS_TOKEN_PARAM, TOKEN)
    with ApiClient(settings.VENDOR, base_url, auth, timeout=120) as client, path.open("wb") as out:
        for page in range_pages(client, start_ms, stop_ms, decode=orjson.loads):  # the records as sent
            for lead in page:
                out.write(orjson.dumps(lead) + b"\n")
                events = lead.get("leadConversionEvents") or []
                counts[EVENTS] += len(events)
                counts[VALUES] += sum(len(e.get("formSubmissionValues") or []) for e in events)
            counts[LEADS] += len(page)
    return counts


def _check(kind: str, result: dict[str, Any], expected: dict[str, int]) -> None:
    if result["rows"] != expected:
        raise RuntimeError(f"the {kind} load has rows {result['rows']}, the sandbox served {expected}")


def _world(leads: int) -> dict[str, Any]:
    return {
        "today": TODAY.isoformat(),
        "leads_per_day": max(1, math.ceil(leads / HISTORY_DAYS)),
        "history_days": HISTORY_DAYS,
    }


def dlt_args(tmp: str, name: str, base_url: str, **extra: Any) -> dict[str, Any]:
    workdir = Path(tmp) / name
    workdir.mkdir()
    start = TODAY.subtract(days=HISTORY_DAYS)
    return {
        "kind": "dlt",
        "workdir": str(workdir),
        "base_url": base_url,
        "token": TOKEN,
        "start_date": start.isoformat(),
        "now": NIGHT.isoformat(),
        **extra,
    }


def run(
    leads: int, runs: int, echo: Callable[[str], None], *, reload: bool = False, merged: bool = False
) -> list[Figure]:
    """`runs` timed loads of each kind over a world of about `leads` leads; figures per kind. `reload` adds
    a merge over stored rows, `merged` the same first load merged as before exactly-once appends."""
    dlt_results: list[dict[str, Any]] = []
    native_results: list[dict[str, Any]] = []
    merged_results: list[dict[str, Any]] = []
    env, settings_note = settings_env()
    with (
        tempfile.TemporaryDirectory(prefix="bench-leads-") as tmp,
        SandboxProcess(**_world(leads), lift_rate_limit=True, cache=True) as sandbox,
    ):
        jsonl = Path(tmp) / "leads.jsonl"
        cpu_before = sandbox.cpu_seconds()
        world_start, night = TODAY.subtract(days=HISTORY_DAYS), NIGHT
        expected = export_jsonl(sandbox.base_url, jsonl, epoch_ms(world_start), epoch_ms(night))
        cache = sandbox.get_json(CACHE_PATH)
        rendering = _per_page(sandbox.cpu_seconds(), cpu_before, cache["misses"])
        total_rows = sum(expected.values())
        echo(f"leads: exported {expected[LEADS]:,} leads ({total_rows:,} rows, {jsonl.stat().st_size / 1e6:.0f} MB)")

        for i in range(runs):
            cpu_before, misses_before = sandbox.cpu_seconds(), sandbox.get_json(CACHE_PATH)["misses"]
            result = run_worker(
                "benchmarks.leads_runs", dlt_args(tmp, f"dlt{i}", sandbox.base_url, reload=reload), env=env
            )
            result["sandbox_cpu_seconds"] = _minus(sandbox.cpu_seconds(), cpu_before)
            result["misses"] = sandbox.get_json(CACHE_PATH)["misses"] - misses_before
            _check("dlt", result, expected)
            if result["dispositions"] != ["append"]:
                raise RuntimeError(f"the first load was not appended: {result['dispositions']}")
            if reload:
                _check("dlt re-load", result["reload"], expected)
            dlt_results.append(result)
            if merged:
                merge = run_worker(
                    "benchmarks.leads_runs", dlt_args(tmp, f"merge{i}", sandbox.base_url, merge=True), env=env
                )
                _check("dlt merged", merge, expected)
                merged_results.append(merge)
            workdir = Path(tmp) / f"native{i}"
            workdir.mkdir()
            native = run_worker(
                "benchmarks.leads_runs", {"kind": "native", "workdir": str(workdir), "jsonl": str(jsonl)}
            )
            _check("native", native, expected)
            native_results.append(native)
            again = f", re-load {result['reload']['seconds']:.2f} s" if reload else ""
            again += f", merged {merged_results[-1]['seconds']:.2f} s" if merged else ""
            echo(f"leads: run {i + 1}/{runs}: dlt {result['seconds']:.2f} s{again}, native {native['seconds']:.2f} s")
    return _figures(expected, dlt_results, native_results, rendering, settings_note, merged_results)


def _minus(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


def _per_page(after: float | None, before: float | None, pages: int) -> float | None:
    spent = _minus(after, before)
    return None if spent is None or not pages else spent / pages


def _figures(
    expected: dict[str, int],
    dlt: list[dict[str, Any]],
    native: list[dict[str, Any]],
    rendering: float | None,
    settings_note: str,
    merged: list[dict[str, Any]],
) -> list[Figure]:
    rows = sum(expected.values())
    bench = f"leads: {expected[LEADS]:,} leads = {rows:,} rows"
    misses = sum(r["misses"] for r in dlt)
    replay = "pages replayed" if misses == 0 else f"{misses} requests missed the replay cache"
    name, native_name = "dlt first load (appended, exactly-once)", "DuckDB read_ndjson+UNNEST"
    dlt_rate = [rows / r["seconds"] for r in dlt]
    native_rate = [rows / r["seconds"] for r in native]
    figures = [
        Figure(
            bench,
            "dlt share of native (rows/s)",
            [100 * d / n for d, n in zip(dlt_rate, native_rate, strict=True)],
            "%",
            "target >= 35%; per run pair",
        ),
        Figure(bench, f"{name}: rows/s", dlt_rate, "rows/s", f"HTTP from sandbox subprocess, {replay}"),
        Figure(
            bench,
            f"{name}: wall",
            [r["seconds"] for r in dlt],
            "s",
            f"pipeline.run(), rate limit lifted; {settings_note}",
        ),
        Figure(bench, f"{name}: CPU", [r["cpu_seconds"] for r in dlt], "s", "user+system, DuckDB threads included"),
    ]
    for step in ("extract", "normalize", "load"):
        figures.append(Figure(bench, f"{name}: {step} step", [r["steps"].get(step, 0.0) for r in dlt], "s"))
    for label in dlt[0]["extract_parts"]:  # the timed parts (TIMED), then what is left of the step: dlt's
        figures.append(Figure(bench, f"{name}: extract: {label}", [r["extract_parts"][label] for r in dlt], "s"))
    figures.append(Figure(bench, f"{name}: peak RSS", [r["peak_rss_mb"] for r in dlt], "MB", "fresh process per run"))
    sandbox_cpu = [r["sandbox_cpu_seconds"] for r in dlt if r["sandbox_cpu_seconds"] is not None]
    if sandbox_cpu:
        figures.append(Figure(bench, "sandbox CPU during a dlt run", sandbox_cpu, "s", "the other process, replaying"))
    if rendering is not None:
        figures.append(
            Figure(bench, "sandbox CPU per page rendered", [rendering * 1e3], "ms", "export pass (no replay)")
        )
    figures += [
        Figure(bench, f"{native_name}: rows/s", native_rate, "rows/s", "same records from a .jsonl file"),
        Figure(bench, f"{native_name}: wall", [r["seconds"] for r in native], "s"),
        Figure(bench, f"{native_name}: CPU", [r["cpu_seconds"] for r in native], "s"),
        Figure(bench, f"{native_name}: peak RSS", [r["peak_rss_mb"] for r in native], "MB", "fresh process per run"),
    ]
    if all("reload" in r for r in dlt):
        again = [r["reload"] for r in dlt]
        figures += [
            share_of_native(
                bench, "re-load (merge over stored rows)", again, native_rate, rows, "same leads again, fresh cursor"
            ),
            Figure(bench, "re-load: wall", [a["seconds"] for a in again], "s"),
            Figure(bench, "re-load: load step", [a["steps"].get("load", 0.0) for a in again], "s"),
        ]
    if merged:
        note = "delete-insert via a staging copy; a destination without exactly-once appends"
        figures += [
            share_of_native(bench, "first load merged (as before)", merged, native_rate, rows, note),
            Figure(bench, "first load merged: load step", [m["steps"].get("load", 0.0) for m in merged], "s"),
        ]
    figures += gap_figures(bench, dlt, native)
    return figures


def share_of_native(
    bench: str, name: str, runs: list[dict[str, Any]], native_rate: list[float], rows: int, note: str
) -> Figure:
    """A variant's rows/s as a percentage of native's, run pair by run pair."""
    return Figure(
        bench,
        f"{name} share of native",
        [100 * (rows / r["seconds"]) / n for r, n in zip(runs, native_rate, strict=True)],
        "%",
        note,
    )


def gap_figures(bench: str, dlt: list[dict[str, Any]], native: list[dict[str, Any]]) -> list[Figure]:
    """What the distance to native is made of: each part of the dlt run in seconds beyond native's whole
    run, per run pair (the parts add up to the dlt run; native's time is subtracted once, from the total)."""
    gap = [d["seconds"] - n["seconds"] for d, n in zip(dlt, native, strict=True)]
    figures = [Figure(bench, "gap to native: total", gap, "s", "dlt wall - native wall, per run pair")]
    for label in dlt[0]["extract_parts"]:
        figures.append(Figure(bench, f"gap to native: extract: {label}", [d["extract_parts"][label] for d in dlt], "s"))
    for step in ("normalize", "load"):
        figures.append(Figure(bench, f"gap to native: {step}", [d["steps"].get(step, 0.0) for d in dlt], "s"))
    outside = [d["seconds"] - sum(d["steps"].values()) for d in dlt]
    figures.append(Figure(bench, "gap to native: outside the steps", outside, "s", "pipeline setup, state, trace"))
    figures.append(
        Figure(bench, "gap to native: minus native's own run", [-n["seconds"] for n in native], "s", "the yardstick")
    )
    return figures


def memory(sizes: tuple[int, ...], runs: int, echo: Callable[[str], None]) -> list[Figure]:
    """Peak RSS of first loads of worlds of each size (issue 19, target 2: <= 500 MB at 1,000,000 leads,
    < 20% growth from 100,000). Pages are rendered live by the sandbox (a replay cache of a million leads
    would hold gigabytes); each run's leads are checked: every lead once, every event of each lead."""
    env, settings_note = settings_env()
    peaks: dict[int, list[float]] = {}
    walls: dict[int, list[float]] = {}
    for size in sizes:
        world = _world(size)
        expected_leads = world["leads_per_day"] * HISTORY_DAYS
        with (
            tempfile.TemporaryDirectory(prefix="bench-leads-mem-") as tmp,
            SandboxProcess(**world, lift_rate_limit=True) as sandbox,
        ):
            for i in range(runs):
                result = run_worker(
                    "benchmarks.leads_runs", dlt_args(tmp, f"mem{i}", sandbox.base_url), env=env, timeout=1800
                )
                _check_memory_run(Path(tmp) / f"mem{i}" / "warehouse.duckdb", expected_leads)
                peaks.setdefault(expected_leads, []).append(result["peak_rss_mb"])
                walls.setdefault(expected_leads, []).append(result["seconds"])
                seconds, peak = result["seconds"], result["peak_rss_mb"]
                echo(f"leads memory: {expected_leads:,} leads, run {i + 1}/{runs}: {seconds:.0f} s, peak {peak:.0f} MB")
    figures = []
    for leads, samples in peaks.items():
        bench = f"leads memory: first load of {leads:,} leads"
        figures += [
            Figure(bench, "peak RSS", samples, "MB", f"target <= 500 MB at 1,000,000; {settings_note}"),
            Figure(bench, "wall", walls[leads], "s", "pages rendered live by the sandbox (no replay)"),
        ]
    if len(peaks) >= 2:
        (small, small_peaks), (large, large_peaks) = sorted(peaks.items())[0], sorted(peaks.items())[-1]
        growth = [100 * (big / min(small_peaks) - 1) for big in large_peaks]
        figures.append(
            Figure(
                f"leads memory: {small:,} -> {large:,} leads",
                "peak RSS growth",
                growth,
                "%",
                "target < 20%; vs the smaller world's lowest run",
            )
        )
    return figures


def _check_memory_run(db: Path, expected_leads: int) -> None:
    """Every lead once, and as many events as the leads say they have (`numConversionEvents`)."""
    import duckdb

    rows = count_rows(db)
    with duckdb.connect(str(db), read_only=True) as con:
        distinct, events_said = con.execute(
            f"SELECT COUNT(DISTINCT guid), SUM(num_conversion_events) FROM marketing.{LEADS}"
        ).fetchone()  # type: ignore[misc]
    if not rows[LEADS] == distinct == expected_leads or rows[EVENTS] != events_said:
        said = f"{distinct} distinct leads, {events_said} events said"
        raise RuntimeError(f"the load has {rows} ({said}), expected {expected_leads:,} leads")
