"""Shared fixtures: a real sandbox server on a free loopback port.

``sandbox``: started with ``SandboxConfig(today=2026-11-20, seed=42)``; override fields per test with
``@pytest.mark.sandbox_config(leads_per_day=5, ...)``. ``sandbox_factory(**config_kwargs, faults=None,
latency_ms=0)`` starts more (or differently configured) servers. Every server is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pendulum
import pytest

from sandbox.core import SandboxConfig
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
