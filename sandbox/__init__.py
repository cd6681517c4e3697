"""The vendor sandbox: local simulators of HubSpot (analytics, leads), AttributionHub and Humblytics that
behave as the vendor documents say, limits and errors included, behind one HTTP server with fault injection.

``from sandbox.server import SandboxServer`` (or ``sandbox.SandboxServer``); ``marketing-elt sandbox --help``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SandboxConfig", "SandboxServer", "serve"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import sandbox.core` stays cheap and free of import cycles.
    if name == "SandboxConfig":
        from sandbox.core import SandboxConfig

        return SandboxConfig
    if name in ("SandboxServer", "serve"):
        from sandbox import server

        return getattr(server, name)
    raise AttributeError(name)
