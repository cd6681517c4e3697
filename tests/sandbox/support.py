"""Helpers shared by the sandbox contract tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sandbox.limits import VendorLimits
from sandbox.server import SandboxServer


class FakeClock:
    """A monotonic clock a test moves by hand: rate-limit windows then do not depend on how fast a loaded machine
    sends requests, and "the window rolls" needs no real sleep."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def fake_clock_limits(sandbox: SandboxServer) -> FakeClock:
    """Replace the server's rate-limit windows with ones on a FakeClock."""
    clock = FakeClock()
    sandbox.app.limits = VendorLimits(sandbox.config, clock=clock)
    return clock


@contextmanager
def serving(code: str) -> Iterator[subprocess.Popen[str]]:
    """``python -c code`` (a foreground ``serve(...)``), terminated on exit: it must stop cleanly with code 0."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
