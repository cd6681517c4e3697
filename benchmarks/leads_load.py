"""Leads processing speed: the real `hubspot_leads` load next to DuckDB-native on the very same records.

shared/performance-notes.md says the cost of nested Leads payloads is in the loader, not in DuckDB or the
network, and gives DuckDB-native as the yardstick. This benchmark measures both in one run:

1. A sandbox subprocess holds a world of ~N leads (`leads_per_day` x 400 days), HubSpot rate limit lifted,
   and replays cached answers (benchmarks/sandbox_proc.py).
2. Untimed: every lead is fetched with the source's own paging (the exact requests of the timed runs, so
   this fills the sandbox's replay cache) and written to a .jsonl file; it also gives the expected rows
   per table. The timed runs then report how many of their requests missed the cache (expected: none).
3. Timed, alternating, each in a fresh process (clean peak RSS): the dlt pipeline run, and DuckDB's
   `read_ndjson` + UNNEST into the same three tables (benchmarks/leads_runs.py). Every run's row counts
   are checked against the export: a fast load of the wrong rows is no figure.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pendulum

from benchmarks.leads_runs import EVENTS, LEADS, TABLES, VALUES
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


def export_jsonl(base_url: str, path: Path, start_ms: int, stop_ms: int) -> dict[str, int]:
    """Every lead the source will load, one JSON object a line; returns the rows per table.

    The pages come from the source's own paging (`sources.hubspot.leads.fetch_pages`, the very requests a
    nightly at `stop_ms` sends), so this one untimed pass also fills the sandbox's replay cache. The client
    has no rate limiter: the benchmark measures our code, not HubSpot's 190 requests / 10 s.
    """
    from sources.common.auth import QueryTokenAuth
    from sources.common.client import ApiClient
    from sources.hubspot import settings
    from sources.hubspot.leads import fetch_pages

    counts = dict.fromkeys(TABLES, 0)
    auth = QueryTokenAuth(settings.LEADS_TOKEN_PARAM, TOKEN)
    with ApiClient(settings.VENDOR, base_url, auth, timeout=120) as client, path.open("wb") as out:
        for page in fetch_pages(client, start_ms, stop_ms):
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


def run(leads: int, runs: int, echo: Callable[[str], None]) -> list[Figure]:
    """`runs` timed loads of each kind over a world of about `leads` leads; figures per kind."""
    leads_per_day = max(1, math.ceil(leads / HISTORY_DAYS))
    world_start = TODAY.subtract(days=HISTORY_DAYS)
    options = {"today": TODAY.isoformat(), "leads_per_day": leads_per_day, "history_days": HISTORY_DAYS}
    dlt_results: list[dict[str, Any]] = []
    native_results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-leads-") as tmp,
        SandboxProcess(**options, lift_rate_limit=True, cache=True) as sandbox,
    ):
        jsonl = Path(tmp) / "leads.jsonl"
        expected = export_jsonl(sandbox.base_url, jsonl, epoch_ms(world_start), epoch_ms(NIGHT))
        total_rows = sum(expected.values())
        echo(f"leads: exported {expected[LEADS]:,} leads ({total_rows:,} rows, {jsonl.stat().st_size / 1e6:.0f} MB)")

        def dlt_args(name: str) -> dict[str, Any]:
            workdir = Path(tmp) / name
            workdir.mkdir()
            return {
                "kind": "dlt",
                "workdir": str(workdir),
                "base_url": sandbox.base_url,
                "token": TOKEN,
                "start_date": world_start.isoformat(),
                "now": NIGHT.isoformat(),
            }

        misses_before = sandbox.get_json(CACHE_PATH)["misses"]
        for i in range(runs):
            result = run_worker("benchmarks.leads_runs", dlt_args(f"dlt{i}"))
            _check("dlt", result, expected)
            dlt_results.append(result)
            workdir = Path(tmp) / f"native{i}"
            workdir.mkdir()
            native_args = {"kind": "native", "workdir": str(workdir), "jsonl": str(jsonl)}
            native = run_worker("benchmarks.leads_runs", native_args)
            _check("native", native, expected)
            native_results.append(native)
            echo(f"leads: run {i + 1}/{runs}: dlt {result['seconds']:.2f} s, native {native['seconds']:.2f} s")
        misses = sandbox.get_json(CACHE_PATH)["misses"] - misses_before
    return _figures(expected, dlt_results, native_results, misses)


def _figures(
    expected: dict[str, int], dlt: list[dict[str, Any]], native: list[dict[str, Any]], misses: int
) -> list[Figure]:
    rows = sum(expected.values())
    bench = f"leads load: {expected[LEADS]:,} leads = {rows:,} rows"
    replay = "pages replayed" if misses == 0 else f"{misses} requests missed the replay cache"
    dlt_name, native_name = "dlt hubspot_leads, parquet", "DuckDB read_ndjson+UNNEST"
    dlt_rate = [rows / r["seconds"] for r in dlt]
    native_rate = [rows / r["seconds"] for r in native]
    return [
        Figure(bench, f"{dlt_name}: rows/s", dlt_rate, "rows/s", f"HTTP from sandbox subprocess, {replay}"),
        Figure(bench, f"{dlt_name}: wall", [r["seconds"] for r in dlt], "s", "pipeline.run(), rate limit lifted"),
        Figure(bench, f"{dlt_name}: peak RSS", [r["peak_rss_mb"] for r in dlt], "MB", "fresh process per run"),
        Figure(bench, f"{native_name}: rows/s", native_rate, "rows/s", "same records from a .jsonl file"),
        Figure(bench, f"{native_name}: wall", [r["seconds"] for r in native], "s"),
        Figure(bench, f"{native_name}: peak RSS", [r["peak_rss_mb"] for r in native], "MB", "fresh process per run"),
        Figure(
            bench,
            "dlt share of native (rows/s)",
            [100 * d / n for d, n in zip(dlt_rate, native_rate, strict=True)],
            "%",
            "per run pair",
        ),
    ]
