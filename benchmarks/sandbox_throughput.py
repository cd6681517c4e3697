"""Sandbox throughput: small requests per second over one keep-alive connection.

The server runs in a subprocess pinned to one core (``os.sched_setaffinity``, where the OS has it) so the
figure is "one core of server"; the httpx client runs here, pinned to another core when there is one. The
HubSpot rate limit is lifted for the run: the point is the server's own cost, not the vendor's limit.

    .venv/bin/python benchmarks/sandbox_throughput.py [--seconds 5] [--leads-per-day 20]

A figure, not a pass/fail; the target is >= 1,000 requests/s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), to price a request independently of contention."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pin_client(server_cpu: int) -> None:
    if hasattr(os, "sched_getaffinity"):
        others = os.sched_getaffinity(0) - {server_cpu}
        if others:
            os.sched_setaffinity(0, {min(others)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per request kind")
    parser.add_argument("--leads-per-day", type=int, default=20, help="world size (x history_days=400)")
    args = parser.parse_args()
    server_cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    script = SERVER.format(cpu=server_cpu, leads_per_day=args.leads_per_day)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        _pin_client(server_cpu)
        total_requests, total_seconds = 0, 0.0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            started = time.perf_counter()
            client.get("/leads/v1/list", params={"access_token": TOKEN, "max": 1}).raise_for_status()
            print(f"first leads request (builds the lead index): {time.perf_counter() - started:.2f} s")
            for name, path, params, headers in REQUESTS:
                for _ in range(200):  # warm-up: caches and the connection
                    client.get(path, params=params, headers=headers).raise_for_status()
                count, started, cpu_before = 0, time.perf_counter(), _cpu_seconds(proc.pid)
                deadline = started + args.seconds
                while time.perf_counter() < deadline:
                    client.get(path, params=params, headers=headers).raise_for_status()
                    count += 1
                elapsed = time.perf_counter() - started
                cpu_after = _cpu_seconds(proc.pid)
                total_requests, total_seconds = total_requests + count, total_seconds + elapsed
                print(f"{name:32s} {count / elapsed:8.0f} requests/s  ({count} in {elapsed:.1f} s)")
                if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
                    per_request = (cpu_after - cpu_before) / count
                    print(
                        f"{'':32s} server CPU {per_request * 1e6:6.0f} us/request"
                        f" = {1 / per_request:6.0f} requests/s per busy core"
                    )
        print(f"{'overall':32s} {total_requests / total_seconds:8.0f} requests/s (server pinned to CPU {server_cpu})")
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
