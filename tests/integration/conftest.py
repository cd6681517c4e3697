"""Run the real CLI in-process against the sandbox over loopback HTTP, into a throwaway DuckDB file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pendulum
import pytest

from pipelines.cli import main
from pipelines.demo import sandbox_env
from sources.common import clock

# The nightly runs at 02:00 UTC on the sandbox's default simulated day.
NIGHT = pendulum.datetime(2026, 11, 20, 2, 0, tz="UTC")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@dataclass
class Warehouse:
    path: Path
    data_dir: Path

    def query(self, sql: str, *params: object) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()

    def count(self, table: str) -> int:
        return self.query(f"SELECT COUNT(*) FROM marketing.{table}")[0][0]


@pytest.fixture
def warehouse(sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """Point every source at the sandbox and the warehouse at tmp_path, as a user's env vars would."""
    for key, value in sandbox_env(sandbox, sandbox.config).items():
        monkeypatch.setenv(key, value)
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(db))
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    for section in ("HUBSPOT", "ATTRIBUTIONHUB", "HUMBLYTICS"):  # ten days of each source keep CLI tests short
        monkeypatch.setenv(f"SOURCES__{section}__START_DATE", "2026-11-10")
    return Warehouse(db, tmp_path / "dlt")


@pytest.fixture
def cli(warehouse: Warehouse, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., CliResult]]:
    """`cli("run", "--sources", "hubspot_leads", now=...)` runs marketing-elt with "now" pinned."""

    def run(*args: str, now: pendulum.DateTime = NIGHT) -> CliResult:
        capsys.readouterr()
        with clock.pinned(now):
            code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A real PostgreSQL server for the session; skipped locally when impossible, a failure in CI."""
    from tests.support.postgres import postgres_or_skip

    with postgres_or_skip() as dsn:
        yield dsn
