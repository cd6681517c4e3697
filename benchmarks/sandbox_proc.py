"""A SandboxServer in a subprocess, so its CPU (and the GIL it holds) is not charged to what we measure.

`SandboxProcess(options)` starts ``python -m benchmarks.sandbox_proc '<options JSON>'``; the child prints its
port and serves until the parent closes its stdin. Options:

- ``today``, ``leads_per_day``, ``history_days``: the `SandboxConfig` world;
- ``latency_ms``: the server's per-request latency (the analytics benchmark uses 50 ms);
- ``lift_rate_limit``: the HubSpot burst limit off, so the leads benchmark measures our code, not the limit;
- ``cache``: memoize 200 answers of GET requests (vendor endpoints only) by path and query. The simulator
  renders every Leads page from scratch (~7.5 ms per 100 leads, about what the loader spends on a page:
  on 2 cores it would take one core from the run it serves); the cache turns a second run of the same
  requests into byte-identical replays, so a timed run measures the loader, not the simulator's
  rendering. Cached answers skip the latency and the sandbox's stats; ``GET /_bench/cache`` reports
  hits and misses, so the benchmark can show that its timed runs were replays. `cpu_seconds()` prices
  the sandbox's own work, measured apart from the loader's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.workers import process_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
CACHE_PATH = "/_bench/cache"


class SandboxProcess:
    """Context manager around the child: ``.base_url``, ``.get_json(path)``, ``.post(path)``."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self._proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> SandboxProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sandbox_proc", json.dumps(self.options)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.strip().isdigit():
            self.__exit__()
            raise RuntimeError(f"the sandbox subprocess did not start (said {line!r})")
        self.base_url = f"http://127.0.0.1:{int(line)}"
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop(proc)

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the sandbox process has used so far (Linux /proc), else None."""
        return process_cpu_seconds(self._proc.pid) if self._proc is not None else None

    def get_json(self, path: str) -> Any:
        return httpx.get(self.base_url + path, timeout=60).raise_for_status().json()

    def post(self, path: str, payload: Any = None) -> Any:
        return httpx.post(self.base_url + path, json=payload or {}, timeout=60).raise_for_status().json()


# --- the child ------------------------------------------------------------------------------------


def _memoize(app: Any) -> None:
    """Replace ``app.handle`` with a replaying one (see the module docstring)."""
    from sandbox.app import ADMIN_PREFIX, Outcome
    from sandbox.core import SandboxResponse

    handle: Callable[[Any], Any] = app.handle
    cache: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], Any] = {}
    counts = {"hits": 0, "misses": 0, "bytes": 0}
    lock = threading.Lock()

    def cached(request: Any) -> Any:
        if request.path == CACHE_PATH:
            with lock:
                return Outcome(SandboxResponse.json(200, {**counts, "entries": len(cache)}))
        if request.method != "GET" or request.path.startswith(ADMIN_PREFIX):
            return handle(request)
        key = (request.path, tuple(sorted((k, tuple(v)) for k, v in request.query.items())))
        with lock:
            hit = cache.get(key)
            counts["hits" if hit is not None else "misses"] += 1
        if hit is not None:
            return hit
        outcome = handle(request)
        if outcome.response.status == 200 and outcome.mode == "normal":
            with lock:
                cache[key] = outcome
                counts["bytes"] += len(outcome.response.body)
        return outcome

    app.handle = cached


def serve(options: dict[str, Any]) -> None:
    """Run the configured server until stdin closes; the port goes to stdout on one line."""
    import pendulum

    from sandbox.core import SandboxConfig
    from sandbox.server import SandboxServer

    config_kwargs: dict[str, Any] = {"today": pendulum.parse(options.get("today", "2026-11-20")).date()}
    for name in ("leads_per_day", "history_days"):
        if name in options:
            config_kwargs[name] = int(options[name])
    if options.get("lift_rate_limit"):
        config_kwargs["hubspot_rate_limit"] = (10**9, 1.0)
    server = SandboxServer(SandboxConfig(**config_kwargs), latency_ms=float(options.get("latency_ms", 0)))
    if options.get("cache"):
        _memoize(server.app)
    with server:
        print(server.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))


def stop(proc: subprocess.Popen[str], timeout: float = 15) -> None:
    """A sandbox subprocess serves until its stdin closes; kill it if it does not stop in time."""
    if proc.stdin:
        proc.stdin.close()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
