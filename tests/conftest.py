"""Shared fixtures: a real sandbox server on a free loopback port.

``sandbox``: started with ``SandboxConfig(today=2026-11-20, seed=42)``; override fields per test with
``@pytest.mark.sandbox_config(leads_per_day=5, ...)``. ``sandbox_factory(**config_kwargs, faults=None,
latency_ms=0)`` starts more (or differently configured) servers. Every server is stopped at teardown.

``hard_sandbox`` / ``hard_sandbox_factory``: the same with every hardening switch of ``sandbox.core.HARD`` on
(the world changes during a run, limits, deeper lateness, large sizes, a partial today, response variants, admin
on its own port: README, Sandbox); ``sandbox_config`` markers and factory kwargs override single switches.
Admin HTTP calls go to ``server.admin_url`` (the vendor port refuses ``/_sandbox/*`` there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pendulum
import pytest

from sandbox.core import HARD, SandboxConfig
from sandbox.faults import FaultsLike
from sandbox.server import SandboxServer

SANDBOX_TODAY = pendulum.date(2026, 11, 20)
SANDBOX_SEED = 42


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox_config(**kwargs): SandboxConfig fields for the `sandbox` fixture of this test"
    )


SandboxFactory = Callable[..., SandboxServer]


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    servers: list[SandboxServer] = []

    def start(*, faults: FaultsLike = None, latency_ms: float = 0, **config_kwargs: Any) -> SandboxServer:
        fields: dict[str, Any] = {"today": SANDBOX_TODAY, "seed": SANDBOX_SEED, **config_kwargs}
        server = SandboxServer(SandboxConfig(**fields), faults=faults, latency_ms=latency_ms).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, sandbox_factory: SandboxFactory) -> SandboxServer:
    marker = request.node.get_closest_marker("sandbox_config")
    return sandbox_factory(**(marker.kwargs if marker else {}))


@pytest.fixture
def hard_sandbox_factory(sandbox_factory: SandboxFactory) -> SandboxFactory:
    """``sandbox_factory`` with ``sandbox.core.HARD`` under the given kwargs."""

    def start(*, faults: FaultsLike = None, latency_ms: float = 0, **config_kwargs: Any) -> SandboxServer:
        return sandbox_factory(faults=faults, latency_ms=latency_ms, **{**HARD, **config_kwargs})

    return start


@pytest.fixture
def hard_sandbox(request: pytest.FixtureRequest, hard_sandbox_factory: SandboxFactory) -> SandboxServer:
    marker = request.node.get_closest_marker("sandbox_config")
    return hard_sandbox_factory(**(marker.kwargs if marker else {}))
