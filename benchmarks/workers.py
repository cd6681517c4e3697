"""Run one timed measurement in a fresh Python process and read back its JSON result.

Why a fresh process per run: peak RSS (`ru_maxrss`) only ever grows within a process, so a clean peak per
run needs a clean process; it also keeps dlt's module-level state (and the HubSpot client's shared rate
limiter) from leaking from one run into the next. The worker's last stdout line is its JSON result.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# No telemetry calls and dlt's own logging quiet: neither belongs in a timed run.
WORKER_ENV = {"RUNTIME__DLTHUB_TELEMETRY": "false", "RUNTIME__LOG_LEVEL": "WARNING"}


class WorkerError(RuntimeError):
    """A worker process failed; the message carries the tail of its stderr."""


def run_worker(module: str, args: dict[str, Any], *, env: dict[str, str] | None = None, timeout: float = 600) -> Any:
    """``python -m <module> '<args JSON>'`` from the project directory (dlt reads .dlt/ there, as the CLI)."""
    proc = subprocess.run(
        [sys.executable, "-m", module, json.dumps(args)],
        cwd=ROOT,
        env={**os.environ, **WORKER_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise WorkerError(f"{module} exited with {proc.returncode}:\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """Peak resident set of this process and of any child it waited for (Linux reports KiB), in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes
    return max(own, children) * scale / 1e6


def emit(result: Any) -> None:
    """A worker's answer: one JSON line, last on stdout."""
    print(json.dumps(result), flush=True)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), to price a request independently of contention."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
