"""The real `marketing-elt` CLI in its own process, for what an in-process run cannot take: a SIGKILL.

`run_process(warehouse, sandbox, at, *argv, crash=...)` runs `python -m tests.operations.pinned_cli` ("now"
pinned through `clock.pinned`, never the process clock) with exactly the environment the harness's in-process
runs use (`Warehouse.env`: the sandbox, fast retries, the warehouse's own DLT_DATA_DIR and DuckDB file) and
the same working directory (the repo, for `.dlt/config.toml`), so a subprocess night and an in-process clean
reference differ only in the process they run in. `crash="<source>:<stage>[:<signal>]"` arms
pipelines/crashpoints.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pendulum

from pipelines import crashpoints
from sandbox.server import SandboxServer
from tests.reliability.harness import RunResult, Warehouse

REPO = Path(__file__).resolve().parents[2]
# Everything of ours a developer's shell (or an in-process run in another thread) might carry.
OWN_PREFIXES = ("SOURCES__", "DESTINATION__", "MARKETING_ELT", "DLT_", "NORMALIZE__", "RUNTIME__")


def process_env(warehouse: Warehouse, sandbox: SandboxServer, settings: Mapping[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(OWN_PREFIXES)}
    env.update(warehouse.env(sandbox, settings))
    env["PYTHONPATH"] = str(REPO)
    return env


def run_process(
    warehouse: Warehouse,
    sandbox: SandboxServer,
    at: pendulum.DateTime,
    *argv: str,
    settings: Mapping[str, str] | None = None,
    crash: str | None = None,
    timeout_s: float = 300,
) -> RunResult:
    """`marketing-elt <argv>` in a subprocess; the result counts the vendor requests the sandbox saw meanwhile
    (exact when nothing else uses this sandbox at the same time)."""
    env = process_env(warehouse, sandbox, settings or {})
    if crash:
        env[crashpoints.ENV] = crash
    before = len(sandbox.request_log)
    done = subprocess.run(
        [sys.executable, "-m", "tests.operations.pinned_cli", at.isoformat(), *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    log = sandbox.request_log[before:]
    result = RunResult(done.returncode, done.stdout, done.stderr, len(log), sum(bool(e["faults"]) for e in log))
    result.statuses = dict(Counter(str(entry["status"]) for entry in log))
    return result
