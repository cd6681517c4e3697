"""One sandbox world, loaded once per session by the real CLI into DuckDB (and, for the parity test, Postgres).

The world: the shared test sandbox (today 2026-11-20, seed 42), every source from 2026-11-06, the nightly at
02:00 UTC, so every source holds 2026-11-06 .. 2026-11-19. The views are refreshed explicitly after the run
(`refresh_views`), whether or not the runner already does it: the call is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pendulum
import pytest

from pipelines.cli import main
from pipelines.demo import sandbox_env
from pipelines.reporting import refresh_views
from sandbox.core import SandboxConfig
from sandbox.server import SandboxServer
from sources.common import clock
from tests.conftest import SANDBOX_SEED, SANDBOX_TODAY

START = pendulum.date(2026, 11, 6)
LAST = SANDBOX_TODAY.subtract(days=1)
NIGHT = pendulum.datetime(2026, 11, 20, 2, 0, tz="UTC")
ALL_SOURCES = "hubspot_analytics,hubspot_leads,attributionhub,humblytics"


@dataclass
class World:
    config: SandboxConfig  # the running server's config (world_start pinned)
    env: dict[str, str]  # what a user would export to reach this warehouse
    duckdb_path: Path

    def query(self, sql: str, *params: object) -> list[tuple]:
        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()

    def columns(self, relation: str) -> list[str]:
        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            return [row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()]


@pytest.fixture(scope="session")
def world_server() -> Iterator[SandboxServer]:
    server = SandboxServer(SandboxConfig(today=SANDBOX_TODAY, seed=SANDBOX_SEED)).start()
    try:
        yield server
    finally:
        server.stop()


def world_env(server: SandboxServer, root: Path) -> dict[str, str]:
    env = sandbox_env(server, server.config)
    env.update(
        {
            "DESTINATION__DUCKDB__CREDENTIALS": str(root / "warehouse.duckdb"),
            "DLT_DATA_DIR": str(root / "dlt"),
            "SOURCES__HUBSPOT__START_DATE": START.isoformat(),
            "SOURCES__ATTRIBUTIONHUB__START_DATE": START.isoformat(),
            "SOURCES__HUMBLYTICS__START_DATE": START.isoformat(),
        }
    )
    return env


def load(env: dict[str, str], *args: str) -> None:
    """`marketing-elt run ...` in-process with `env` and the clock at NIGHT, then refresh the views."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        with clock.pinned(NIGHT):
            code = main(["run", "--sources", ALL_SOURCES, *args])
            assert code == 0, f"the load failed (exit {code})"
            destination = args[args.index("--destination") + 1] if "--destination" in args else "duckdb"
            result = refresh_views(destination, raise_errors=True)
            assert result.ok and not result.absent, result.notes


@pytest.fixture(scope="session")
def world(world_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("reporting-duckdb")
    env = world_env(world_server, root)
    load(env)
    return World(world_server.config, env, root / "warehouse.duckdb")


@pytest.fixture
def world_env_vars(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The world's env vars set for one test (the CLI reads its warehouse from them)."""
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    return world


@pytest.fixture(scope="session")
def postgres_world(world_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same world loaded into a real PostgreSQL server: its DSN. Skipped locally without a server,
    a failure in CI (`CI=true`)."""
    from tests.support.postgres import postgres_or_skip

    with postgres_or_skip() as dsn:
        root = tmp_path_factory.mktemp("reporting-postgres")
        env = {**world_env(world_server, root), "DESTINATION__POSTGRES__CREDENTIALS": dsn}
        load(env, "--destination", "postgres")
        yield dsn


def readme_queries() -> dict[str, list[str]]:
    """The example queries of README's "Reporting views" section, by the view their heading names."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Reporting views\n") :].split("\n## ", 1)[0]
    out: dict[str, list[str]] = {}
    for heading, body in re.findall(r"^### (.+?)\n(.*?)(?=^### |\Z)", section, flags=re.MULTILINE | re.DOTALL):
        views = re.findall(r"`reporting\.(\w+)`", heading)
        queries = re.findall(r"```sql\n(.*?)```", body, flags=re.DOTALL)
        if views:
            out[" and ".join(views)] = [q.strip().rstrip(";") for q in queries]
    return out
