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

    # --- hardening (issue 18). Each field below is kind by default (the sandbox as it was); `HARD` holds the
    # values that make it as hard as the real vendors, used by `serve()` and the `sandbox` fixtures.
    # The world changes during a run: simulated now starts at `today` 00:00 UTC + clock_start_s whenever the
    # day is set, and moves clock_step_ms forward with every vendor request (never past the day's end).
    clock_start_s: int = 0
    clock_step_ms: int = 0
    # Leads re-edited while a run pages (sales, enrichment, syncs): this many edits per simulated hour, each on a
    # lead inserted in the previous leads_churn_days; one lead in eight is soft-deleted within that span.
    leads_churn_per_hour: float = 0.0
    leads_churn_days: int = 90
    # Conversions become visible at an instant (between 1 h and late_conversion_days after they happened)
    # instead of at midnight, so they arrive while a run pages. Off: at 00:00 of day + 1..late days.
    conversions_arrive_intraday: bool = False
    # Restated analytics days may overshoot and come down to their final numbers, not only grow.
    restate_can_drop: bool = False
    # `blog-posts` and `pages` have this many values: more than one `total` page (limit 350) holds.
    hubspot_large_report_values: int | None = None
    # Every Monday 13:00:00.000 UTC a bulk edit stamps about this many leads (inserted 0..28 days before the
    # churn window, so no churn edit breaks the tie) with that one millisecond: the keyset paginator's tie case.
    leads_bulk_edit_size: int = 0
    # Today answers with incomplete numbers (analytics, AttributionHub sessions, Humblytics buckets) instead of
    # nothing: the share of the day elapsed at simulated now, and analytics restated from there.
    today_partial: bool = False
    # Limits: 501 SCAN_TIME_EXCEEDED for drilldown requests (d1 given) spanning more days; HubSpot's daily
    # request budget per simulated day (429 policyName DAILY); refused requests count toward rolling windows
    # (and budgets) as they do at real vendors; the share of Humblytics 429s that carry Retry-After.
    hubspot_scan_time_drilldown_days: int | None = None
    hubspot_daily_limit: int | None = None
    rate_limits_count_refused: bool = False
    humblytics_retry_after_share: float = 1.0
    # Response variants: error bodies rotate through the other shapes the vendors send (no JSON body, plain
    # text, extra or missing keys); some records lack an optional field or carry null in it.
    error_variants: bool = False
    field_variants: bool = False
    # Admin endpoints (/_sandbox/*) only on a separate listener: nothing sent to the vendor port reaches them.
    separate_admin_port: bool = False
    # Set by the server for each request when the clock moves (epoch ms); None = `today` 00:00 UTC.
    now_ms: int | None = None

    @classmethod
    def hard(cls, **overrides: Any) -> SandboxConfig:
        """A config with every hardening switch on (``HARD``), then ``overrides``."""
        return cls(**{**HARD, **overrides})


DAY_MS = 86_400_000

# The hardening switches as `marketing-elt sandbox` and the `sandbox` fixtures set them (README, Sandbox).
HARD: dict[str, Any] = {
    "clock_start_s": 2 * 3600,  # the nightly's hour (README, Scheduling: after 02:00 UTC)
    "clock_step_ms": 60_000,  # a simulated minute per request
    "leads_churn_per_hour": 30.0,
    "conversions_arrive_intraday": True,
    "late_conversion_days": 3,
    "restate_can_drop": True,
    "hubspot_large_report_values": 400,
    "leads_bulk_edit_size": 150,
    "today_partial": True,
    "hubspot_scan_time_drilldown_days": 14,
    "hubspot_daily_limit": 650_000,  # facts.md: 650k-1M per day
    "attributionhub_monthly_quota": 300,  # a year's backfill spends it (about 430 requests with one segment)
    "humblytics_rate_limit": (10, 1.0),
    "humblytics_retry_after_share": 0.5,
    "rate_limits_count_refused": True,
    "error_variants": True,
    "field_variants": True,
    "separate_admin_port": True,
}


def day_start_ms(day: pendulum.Date) -> int:
    return int(pendulum.datetime(day.year, day.month, day.day, tz="UTC").timestamp()) * 1000


def now_ms(config: SandboxConfig) -> int:
    """Simulated now in epoch ms: set per request by the server's clock, else ``today`` 00:00 UTC."""
    return config.now_ms if config.now_ms is not None else day_start_ms(config.today)


def clock_moves(config: SandboxConfig) -> bool:
    """Whether simulated now ever differs from ``today`` 00:00 (so requests need their own ``now_ms``)."""
    return bool(config.clock_start_s or config.clock_step_ms)


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
