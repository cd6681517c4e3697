"""The contract between the sandbox server and the vendor simulators.

The server (``sandbox/server.py``) parses HTTP, applies faults, latency and rate limits, and counts;
each vendor module only turns a ``SandboxRequest`` into a ``SandboxResponse`` from the simulated world.
Keeping vendors free of sockets makes them testable as pure functions and keeps the server in one place.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson
import pendulum

# Demo credentials (issue 3); overridable through SandboxConfig.
HUBSPOT_TOKEN = "sandbox-hubspot-token"
ATTRIBUTIONHUB_KEY = "sandbox-attributionhub-key"
HUMBLYTICS_KEY = "sandbox-humblytics-key"
# A key of the same property without the `metrics` permission: 403 (humblytics-external-analytics-api.txt, Errors).
HUMBLYTICS_KEY_NO_METRICS = "sandbox-humblytics-key-no-metrics"
HUMBLYTICS_PROPERTY = "sandbox-property"


class QueryError(ValueError):
    """A request the vendor answers with 400; the message goes to the client as the vendor would word it."""


@dataclass(frozen=True)
class SandboxRequest:
    """One parsed HTTP request. Header names are lower-cased."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""

    @classmethod
    def build(
        cls, method: str, target: str, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> SandboxRequest:
        path, _, qs = target.partition("?")
        query = parse_qs(qs, keep_blank_values=True)
        return cls(method.upper(), path, query, {k.lower(): v for k, v in (headers or {}).items()}, body)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def params(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else {}


@dataclass
class SandboxResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> SandboxResponse:
        return cls(status, orjson.dumps(payload), {"Content-Type": "application/json", **(headers or {})})


@dataclass
class SandboxConfig:
    """Everything that shapes the simulated world. Same config + same ``today`` = same bytes."""

    today: pendulum.Date = field(default_factory=lambda: pendulum.today("UTC").date())
    seed: int = 42
    history_days: int = 400  # how far back the world has data
    # First day of the HubSpot worlds; None = today - history_days. SandboxServer pins it when it starts, so
    # moving the simulated clock forward adds days instead of sliding (and renumbering) the whole world.
    world_start: pendulum.Date | None = None
    # credentials
    hubspot_token: str = HUBSPOT_TOKEN
    attributionhub_key: str = ATTRIBUTIONHUB_KEY
    humblytics_key: str = HUMBLYTICS_KEY
    humblytics_property: str = HUMBLYTICS_PROPERTY
    humblytics_keys_without_metrics: tuple[str, ...] = (HUMBLYTICS_KEY_NO_METRICS,)  # valid keys, no `metrics`
    # scale knobs
    leads_per_day: int = 20
    sessions_per_day: int = 200
    # realism
    restate_days: int = 3  # analytics for the last N days still grow; settled from day N+1 on
    late_conversion_days: int = 2  # some conversions become visible up to N days after they happened
    # vendor limits
    hubspot_point_limit: int = 500
    hubspot_breakdown_limit: int = 2_000_000  # 501 RESULT_LIMIT_EXCEEDED past this many breakdowns
    hubspot_scan_time_days: int | None = None  # 501 SCAN_TIME_EXCEEDED when a request spans more days
    hubspot_rate_limit: tuple[int, float] = (190, 10.0)  # requests per seconds (TEN_SECONDLY_ROLLING)
    attributionhub_monthly_quota: int | None = None  # requests per calendar month; None = unlimited
    # a session-filtered /conversions request scans at most this many 200-session batches (time budget)
    attributionhub_session_batches_per_request: int = 5
    humblytics_bucket_limit: int = 500
    humblytics_rate_limit: tuple[int, float] | None = None
    # The other reading of Humblytics' ambiguous `end` (sandbox/humblytics.py, THE RANGE RULE): a date-only end
    # covers its whole local day and there is no trailing bucket. Off = the reading of the published sample.
    humblytics_end_inclusive: bool = False


class VendorSim(Protocol):
    """A vendor simulator: pure request → response over the world described by the config."""

    name: str  # the vendor key used in stats and faults: hubspot_analytics, hubspot_leads, attributionhub, humblytics

    def matches(self, path: str) -> bool: ...

    def handle(self, request: SandboxRequest, config: SandboxConfig) -> SandboxResponse: ...


def rng(seed: int, *keys: object) -> random.Random:
    """A deterministic RNG for one fact of the world (Python's ``hash`` is salted per process)."""
    digest = hashlib.blake2b(repr((seed, *keys)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def stable_hex(seed: int, *keys: object, length: int = 32) -> str:
    """A deterministic hex id (HubSpot guids look like this)."""
    return hashlib.blake2b(repr((seed, *keys)).encode(), digest_size=length // 2).hexdigest()
