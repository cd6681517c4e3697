"""Operator scenarios through the real CLI, each in its own process, in a fresh project directory.

`project` is what an operator has: a working directory with `.dlt/config.toml`, env vars pointing every
source at the sandbox, a `DLT_DATA_DIR` and a DuckDB file. `project.run(...)` runs `marketing-elt` in a
subprocess with "now" pinned (tests/operations/pinned_cli.py); `project.start(...)` leaves it running.
`MARKETING_ELT_TEST_CRASH_AT` (pipelines/crashpoints.py) kills or stops a run inside a given stage.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pendulum
import pytest

from pipelines.demo import sandbox_env
from sandbox.server import SandboxServer
from tests.integration.conftest import postgres_dsn  # noqa: F401 -- the session's PostgreSQL server

REPO = Path(__file__).resolve().parents[2]
NIGHT = pendulum.datetime(2026, 11, 20, 2, 0, tz="UTC")  # the nightly on the sandbox's default day
HUBSPOT = "hubspot_analytics,hubspot_leads"
LEADS_TABLES = (
    "hubspot_leads",
    "hubspot_leads__lead_conversion_events",
    "hubspot_leads__lead_conversion_events__form_submission_values",
)
TABLES = ("hubspot_analytics_totals", *LEADS_TABLES)
PER_LOAD_COLUMNS = {"_dlt_load_id", "_dlt_id", "_loaded_at"}
# Everything of ours a developer's shell might carry; the project sets its own.
OWN_PREFIXES = ("SOURCES__", "DESTINATION__", "MARKETING_ELT", "DLT_", "NORMALIZE__", "RUNTIME__")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error: ")]

    @property
    def notes(self) -> list[str]:
        """The run's notes about state and sources (the reporting-views refresh note is the views' own test)."""
        return [
            line
            for line in self.out.splitlines()
            if line.startswith("note: ") and not line.startswith("note: reporting views")
        ]


@dataclass
class Project:
    root: Path
    sandbox: SandboxServer
    env: dict[str, str] = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        return Path(self.env["DESTINATION__DUCKDB__CREDENTIALS"])

    @property
    def dataset(self) -> str:
        return self.env.get("MARKETING_ELT__DATASET_NAME", "marketing")

    @property
    def data_dir(self) -> Path:
        return Path(self.env["DLT_DATA_DIR"])

    def command(self, args: tuple[str, ...], now: pendulum.DateTime) -> list[str]:
        return [sys.executable, "-m", "tests.operations.pinned_cli", now.isoformat(), *args]

    def environ(self, crash: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
        env.update(self.env)
        env["PYTHONPATH"] = str(REPO)
        if crash:
            env["MARKETING_ELT_TEST_CRASH_AT"] = crash
        env.update(extra or {})
        return env

    def run(
        self, *args: str, now: pendulum.DateTime = NIGHT, crash: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        done = subprocess.run(
            self.command(args, now),
            cwd=self.root,
            env=self.environ(crash, env),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def start(
        self, *args: str, now: pendulum.DateTime = NIGHT, crash: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(args, now),
            cwd=self.root,
            env=self.environ(crash, env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT COUNT(*) FROM {self.dataset}.{table}")[0][0])

    def snapshot(self, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows without dlt's per-load columns, order-independent: what a clean run must equal."""
        out = {}
        for table in tables:
            columns = sorted(
                row[0] for row in self.query(f"DESCRIBE {self.dataset}.{table}") if row[0] not in PER_LOAD_COLUMNS
            )
            out[table] = sorted(self.query(f"SELECT {', '.join(columns)} FROM {self.dataset}.{table}"), key=repr)
        return out

    def ledger(self) -> list[dict[str, Any]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            cursor = con.execute(f"SELECT * FROM {self.dataset}._marketing_elt_runs ORDER BY finished_at, source")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def vendor_requests(self, vendor: str) -> list[dict[str, Any]]:
        return [entry for entry in self.sandbox.request_log if entry["vendor"] == vendor]


def make_project(root: Path, sandbox: SandboxServer) -> Project:
    """A project directory: the repo's `.dlt/config.toml`, sources on the sandbox, its own data dir and DuckDB."""
    (root / ".dlt").mkdir(parents=True)
    shutil.copy(REPO / ".dlt" / "config.toml", root / ".dlt" / "config.toml")
    env = {
        **sandbox_env(sandbox, sandbox.config),
        "DESTINATION__DUCKDB__CREDENTIALS": str(root / "warehouse.duckdb"),
        "DLT_DATA_DIR": str(root / "dlt"),
        "SOURCES__HUBSPOT__START_DATE": "2026-11-10",
        # Ten days of every source keep each subprocess run short; the scenarios do not need thirty.
        "SOURCES__ATTRIBUTIONHUB__START_DATE": "2026-11-10",
        "SOURCES__HUMBLYTICS__START_DATE": "2026-11-10",
        "SOURCES__HUBSPOT__REPORTS": '["totals"]',
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    return Project(root, sandbox, env)


@pytest.fixture
def new_project(sandbox: SandboxServer, tmp_path: Path) -> Iterator[Any]:
    """`new_project(name)` makes another project directory on the same sandbox (a clean reference run)."""
    yield lambda name="project": make_project(tmp_path / name, sandbox)


@pytest.fixture
def project(new_project: Any) -> Project:
    return new_project()
