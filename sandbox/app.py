"""Everything between a parsed request and the bytes to send, without sockets: routing to the simulators,
the admin endpoints, rate limits, faults, latency and the request log. ``server.py`` only does HTTP."""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pendulum

from sandbox.attributionhub import AttributionHubSim
from sandbox.core import DAY_MS, SandboxConfig, SandboxRequest, SandboxResponse, VendorSim, clock_moves, day_start_ms
from sandbox.faults import Faults, FaultsLike, FaultSpecError, apply_drift
from sandbox.hubspot_analytics import HubSpotAnalyticsSim
from sandbox.hubspot_leads import HubSpotLeadsSim
from sandbox.humblytics import HumblyticsSim
from sandbox.limits import VendorLimits
from sandbox.stats import RequestStats

ADMIN_PREFIX = "/_sandbox/"


def default_sims() -> list[VendorSim]:
    """One fresh instance of every simulator (they keep per-server state such as caches and quotas)."""
    return [HubSpotAnalyticsSim(), HubSpotLeadsSim(), AttributionHubSim(), HumblyticsSim()]


class SimClock:
    """Simulated now (epoch ms): ``today`` 00:00 UTC + ``clock_start_s``, then ``clock_step_ms`` further for every
    vendor request since the day was set (the step in force when the request came: setting it to 0 stops the
    clock where it stands), never past the day's last millisecond. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._moved_ms = 0

    def reset(self) -> None:
        with self._lock:
            self._moved_ms = 0

    @staticmethod
    def _at(config: SandboxConfig, moved_ms: int) -> int:
        start = day_start_ms(config.today)
        return min(start + config.clock_start_s * 1000 + moved_ms, start + DAY_MS - 1)

    def tick(self, config: SandboxConfig) -> int:
        """The now of one vendor request; the clock then moves on by one step."""
        with self._lock:
            moved = self._moved_ms
            self._moved_ms += config.clock_step_ms
        return self._at(config, moved)

    def peek(self, config: SandboxConfig) -> int:
        """The now the next vendor request will see."""
        with self._lock:
            return self._at(config, self._moved_ms)


@dataclass
class Outcome:
    response: SandboxResponse
    mode: str = "normal"  # "drop" | "truncate": how the server must damage the delivery


def parse_date(value: Any) -> pendulum.Date:
    """A pendulum Date from a Date, a ``datetime.date`` or a ``YYYY-MM-DD`` string."""
    if isinstance(value, pendulum.Date):
        return value
    if isinstance(value, str):
        parsed = pendulum.parse(value, exact=True)
        if not isinstance(parsed, pendulum.Date) or isinstance(parsed, pendulum.DateTime):
            raise ValueError(f"not a YYYY-MM-DD date: {value!r}")
        return parsed
    return pendulum.date(value.year, value.month, value.day)


def _admin_error(status: int, message: str) -> SandboxResponse:
    return SandboxResponse.json(status, {"error": message})


class SandboxApp:
    """The sandbox's request handling. ``config`` is replaced (never mutated) when the clock moves."""

    def __init__(
        self,
        config: SandboxConfig,
        faults: FaultsLike = None,
        latency_ms: float = 0.0,
        sims: Sequence[VendorSim] | None = None,
    ) -> None:
        if config.world_start is None:  # pin the world so moving the clock only adds days
            config = dataclasses.replace(config, world_start=config.today.subtract(days=config.history_days))
        self.config = config
        self.faults = Faults(faults, seed=config.seed)
        self.latency_s = latency_ms / 1000
        self.sims = list(sims) if sims is not None else default_sims()
        self.limits = VendorLimits(config)
        self.stats = RequestStats()
        self.clock = SimClock()
        # With a separate admin listener (config.separate_admin_port) the vendor port refuses /_sandbox/*.
        self.admin_on_vendor_port = not config.separate_admin_port

    # --- control -------------------------------------------------------------------------------------
    def set_today(self, today: Any) -> None:
        """Move the simulated day; its clock starts again at ``clock_start_s``."""
        self.config = dataclasses.replace(self.config, today=parse_date(today))
        self.clock.reset()

    def configure(self, **fields: Any) -> None:
        """Change config fields of the running world (e.g. ``clock_step_ms=0`` stops the clock where it stands).

        Rate-limit windows keep the sizes they started with; the admin port cannot be moved."""
        if "separate_admin_port" in fields:
            raise ValueError("separate_admin_port is fixed when the server starts")
        self.config = dataclasses.replace(self.config, **fields)

    def now(self) -> pendulum.DateTime:
        """Simulated now: what the next vendor request will see."""
        return pendulum.from_timestamp(self.clock.peek(self.config) / 1000, tz="UTC")

    def set_faults(self, spec: FaultsLike) -> None:
        self.faults.replace(spec)

    def reset(self) -> None:
        """Stats, rate-limit windows, fault counters, the day's clock and simulator state (e.g. quotas) back to
        zero."""
        self.stats.reset()
        self.limits.reset()
        self.clock.reset()
        self.faults.reset_counters()
        for sim in self.sims:
            reset = getattr(sim, "reset", None)
            if callable(reset):
                reset()

    # --- requests ------------------------------------------------------------------------------------
    def handle(self, request: SandboxRequest) -> Outcome:
        """A request that arrived on the vendor port (and, unless admin has its own port, the admin one)."""
        if request.path.startswith(ADMIN_PREFIX) and self.admin_on_vendor_port:
            return Outcome(self._admin(request))
        return self.handle_vendor(request)

    def handle_admin(self, request: SandboxRequest) -> Outcome:
        """A request on the admin listener: only ``/_sandbox/*`` exists there."""
        if request.path.startswith(ADMIN_PREFIX):
            return Outcome(self._admin(request))
        return Outcome(_admin_error(404, f"the admin port serves only {ADMIN_PREFIX}*, not {request.path}"))

    def handle_vendor(self, request: SandboxRequest) -> Outcome:
        sim = next((s for s in self.sims if s.matches(request.path)), None)
        if sim is None:
            response = SandboxResponse.json(404, {"error": "not_found", "message": f"No route for {request.path}"})
            self.stats.record("unknown", method=request.method, path=request.path, query=request.query, status=404)
            return Outcome(response)
        config = self.config
        now_ms = self.clock.tick(config)
        if clock_moves(config):
            config = dataclasses.replace(config, now_ms=now_ms)
        plan = self.faults.plan(sim.name, request.path, variants=config.error_variants)
        delay = self.latency_s + plan.delay_s
        if delay > 0:
            time.sleep(delay)
        response = plan.response or self.limits.check(sim.name, config) or self._call(sim, request, config)
        if plan.drift:
            response = apply_drift(response, plan.drift)
        self.stats.record(
            sim.name,
            method=request.method,
            path=request.path,
            query=request.query,
            status=response.status,
            faults=plan.labels,
            at_ms=now_ms,
        )
        return Outcome(response, plan.mode)

    def _call(self, sim: VendorSim, request: SandboxRequest, config: SandboxConfig) -> SandboxResponse:
        try:
            return sim.handle(request, config)
        except Exception as exc:  # a simulator bug must be loud, not a hung client
            traceback.print_exc(file=sys.stderr)
            return SandboxResponse.json(500, {"error": "sandbox_bug", "message": repr(exc)})

    def _admin(self, request: SandboxRequest) -> SandboxResponse:
        action = request.path[len(ADMIN_PREFIX) :].strip("/")
        try:
            body = request.json() if request.body else {}
        except orjson.JSONDecodeError:
            return _admin_error(400, "body is not JSON")
        if action == "stats" and request.method == "GET":
            return SandboxResponse.json(200, self.stats.snapshot())
        if action == "clock":
            if request.method == "POST":
                try:
                    self.set_today(body.get("today"))
                except (ValueError, TypeError, AttributeError) as exc:
                    return _admin_error(400, f'expected {{"today": "YYYY-MM-DD"}}: {exc}')
            return SandboxResponse.json(200, {"today": self.config.today.isoformat()})
        if action == "now" and request.method == "GET":
            return SandboxResponse.json(200, {"now": self.now().isoformat()})
        if action == "faults":
            if request.method == "POST":
                try:
                    self.set_faults(body)
                except FaultSpecError as exc:
                    return _admin_error(400, str(exc))
            return SandboxResponse.json(200, {"rules": self.faults.describe()})
        if action == "reset" and request.method == "POST":
            self.reset()
            return SandboxResponse.json(200, {"reset": True})
        return _admin_error(404, f"unknown admin endpoint {request.method} {request.path}")
