"""Shared fixtures: a real sandbox server on a free loopback port, as hard as the real vendors.

``sandbox``: started with ``SandboxConfig(today=2026-11-20, seed=42, **HARD)``: every hardening switch of
``sandbox.core.HARD`` on (the world changes during a run, limits, deeper lateness, large sizes, a partial today,
response variants, admin on its own port: README, Sandbox). Override fields per test with
``@pytest.mark.sandbox_config(leads_per_day=5, ...)`` (on a module too; the test's own fields win), e.g. one
switch back to its kind value when it is noise for what the test is about (say why in a comment).
``sandbox_factory(**config_kwargs, faults=None, latency_ms=0)`` starts more (or differently configured) servers,
HARD under the kwargs. ``@pytest.mark.kind_sandbox`` makes both start the kind sandbox (``SandboxConfig()``
defaults) instead. Every server is stopped at teardown.

Admin HTTP calls go to ``server.admin_url`` (the hard vendor port refuses ``/_sandbox/*``). The clock moves a
simulated minute per vendor request: read what a test expects inside ``stopped_clock(server)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    config.addinivalue_line(
        "markers", "kind_sandbox: `sandbox` and `sandbox_factory` start the kind sandbox instead of the hard one"
    )


SandboxFactory = Callable[..., SandboxServer]


@pytest.fixture
def sandbox_factory(request: pytest.FixtureRequest) -> Iterator[SandboxFactory]:
    servers: list[SandboxServer] = []
    base = {} if request.node.get_closest_marker("kind_sandbox") else HARD

    def start(*, faults: FaultsLike = None, latency_ms: float = 0, **config_kwargs: Any) -> SandboxServer:
        fields: dict[str, Any] = {"today": SANDBOX_TODAY, "seed": SANDBOX_SEED, **base, **config_kwargs}
        server = SandboxServer(SandboxConfig(**fields), faults=faults, latency_ms=latency_ms).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, sandbox_factory: SandboxFactory) -> SandboxServer:
    fields: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("sandbox_config"))):  # a module's, then the test's
        fields.update(marker.kwargs)
    return sandbox_factory(**fields)


@contextmanager
def stopped_clock(server: SandboxServer) -> Iterator[SandboxServer]:
    """The simulated clock stands still inside (a test's own reads see one instant and do not age the world),
    then moves on from where it stood."""
    step = server.config.clock_step_ms
    server.configure(clock_step_ms=0)
    try:
        yield server
    finally:
        server.configure(clock_step_ms=step)
