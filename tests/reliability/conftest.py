"""Fixtures of the reliability suite: a hard sandbox per world, warehouses under tmp_path, shared references."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from sources.common.partial import STOPS
from sources.common.stats import RUN_STATS
from tests.reliability.harness import Warehouse


@pytest.fixture(scope="session")
def reference_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where clean reference warehouses live; they are cached for the whole session (harness.clean_reference)."""
    return tmp_path_factory.mktemp("references")


@pytest.fixture
def start_world(sandbox_factory: Callable[..., SandboxServer]) -> Callable[..., SandboxServer]:
    """`start_world(world, faults=None)`: a running sandbox of `world`, stopped at teardown."""
    return lambda world, faults=None: sandbox_factory(faults=faults, **world.fields())


@pytest.fixture
def warehouse(tmp_path: Path) -> Callable[[str], Warehouse]:
    """`warehouse(name)`: an installation (state + DuckDB file) under tmp_path."""
    return lambda name="subject": Warehouse(tmp_path / name)


@pytest.fixture(autouse=True)
def _fresh_run_counters() -> Iterator[None]:
    RUN_STATS.reset()
    STOPS.reset()
    yield
