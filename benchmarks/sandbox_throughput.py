"""Sandbox throughput: small requests per second over one keep-alive connection.

The server runs in a subprocess pinned to one core (``os.sched_setaffinity``, where the OS has it) so the
figure is "one core of server"; the httpx client runs here, pinned to another core when there is one. The
HubSpot rate limit is lifted for the run: the point is the server's own cost, not the vendor's limit.

    .venv/bin/python -m benchmarks.sandbox_throughput [--seconds 5] [--leads-per-day 20]

A figure, not a pass/fail; the target is >= 1,000 requests/s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.sandbox_proc import stop
from benchmarks.workers import process_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "sandbox-hubspot-token"
SERVER = """
import os, sys
import pendulum
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {{{cpu}}})
from sandbox.core import SandboxConfig
from sandbox.server import SandboxServer
config = SandboxConfig(today=pendulum.date(2026, 11, 20), leads_per_day={leads_per_day},
                       hubspot_rate_limit=(10**9, 1.0))
with SandboxServer(config) as server:
    print(server.port, flush=True)
    sys.stdin.read()  # run until the parent closes our stdin
"""
REQUESTS = (
    ("leads max=1", "/leads/v1/list", {"access_token": TOKEN, "max": 1}, {}),
    (
        "analytics totals/total 1 day",
        "/analytics/v2/reports/totals/total",
        {"start": "20261101", "end": "20261101"},
        {"Authorization": f"Bearer {TOKEN}"},
    ),
)


def _pin_client(server_cpu: int) -> None:
    if hasattr(os, "sched_getaffinity"):
        others = os.sched_getaffinity(0) - {server_cpu}
        if others:
            os.sched_setaffinity(0, {min(others)})


@dataclass
class KindResult:
    """One request kind: a requests/s sample and (where /proc exists) a server CPU cost per measuring window."""

    name: str
    requests_per_s: list[float] = field(default_factory=list)
    server_cpu_us: list[float] = field(default_factory=list)


@dataclass
class ThroughputResult:
    """Everything one `measure()` saw; `overall` is all requests over all measuring time, as the script prints."""

    kinds: list[KindResult]
    overall_requests_per_s: float
    server_cpu: int
    first_request_s: float


def measure(
    seconds: float = 5.0,
    leads_per_day: int = 20,
    *,
    repeats: int = 1,
    echo: Callable[[str], None] | None = print,
) -> ThroughputResult:
    """Start the pinned sandbox subprocess and time every request kind `repeats` times for `seconds` each.

    Callable from `python -m benchmarks` (which wants medians of several windows); this process's CPU
    affinity is restored afterwards so benchmarks that run later get every core back.
    """
    say = echo or (lambda _line: None)
    server_cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    script = SERVER.format(cpu=server_cpu, leads_per_day=leads_per_day)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    kinds = [KindResult(name) for name, *_ in REQUESTS]
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        _pin_client(server_cpu)
        total_requests, total_seconds = 0, 0.0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            started = time.perf_counter()
            client.get("/leads/v1/list", params={"access_token": TOKEN, "max": 1}).raise_for_status()
            first_request_s = time.perf_counter() - started
            say(f"first leads request (builds the lead index): {first_request_s:.2f} s")
            for kind, (name, path, params, headers) in zip(kinds, REQUESTS, strict=True):
                for _ in range(200):  # warm-up: caches and the connection
                    client.get(path, params=params, headers=headers).raise_for_status()
                for _ in range(repeats):
                    count, started, cpu_before = 0, time.perf_counter(), process_cpu_seconds(proc.pid)
                    deadline = started + seconds
                    while time.perf_counter() < deadline:
                        client.get(path, params=params, headers=headers).raise_for_status()
                        count += 1
                    elapsed = time.perf_counter() - started
                    cpu_after = process_cpu_seconds(proc.pid)
                    total_requests, total_seconds = total_requests + count, total_seconds + elapsed
                    kind.requests_per_s.append(count / elapsed)
                    say(f"{name:32s} {count / elapsed:8.0f} requests/s  ({count} in {elapsed:.1f} s)")
                    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
                        per_request = (cpu_after - cpu_before) / count
                        kind.server_cpu_us.append(per_request * 1e6)
                        say(
                            f"{'':32s} server CPU {per_request * 1e6:6.0f} us/request"
                            f" = {1 / per_request:6.0f} requests/s per busy core"
                        )
        overall = total_requests / total_seconds
        say(f"{'overall':32s} {overall:8.0f} requests/s (server pinned to CPU {server_cpu})")
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
        stop(proc)
    return ThroughputResult(kinds, overall, server_cpu, first_request_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per request kind")
    parser.add_argument("--leads-per-day", type=int, default=20, help="world size (x history_days=400)")
    args = parser.parse_args()
    measure(args.seconds, args.leads_per_day)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
