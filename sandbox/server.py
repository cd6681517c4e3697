"""The sandbox HTTP server: one port for every vendor simulator plus ``/_sandbox/...`` admin endpoints.

With ``SandboxConfig.separate_admin_port`` the admin endpoints live on a second listener (``admin_port``,
``.admin_url``) and the vendor port answers ``/_sandbox/*`` with a 404 like any unknown path, so nothing a
source sends can move the clock, change faults or reset counters. ``.admin_url`` is the base URL for
``/_sandbox/*`` either way; the Python API (``set_today``, ``set_faults``, ``stats()``...) calls the app directly.

Stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive: every response carries Content-Length and
goes out in one ``send`` with TCP_NODELAY (a header write followed by a body write would meet Nagle and
delayed ACKs: 40 ms per request). No per-request logging. ``SandboxApp`` holds all the behaviour.

Admin: ``POST /_sandbox/clock {"today": "YYYY-MM-DD"}``, ``GET /_sandbox/now`` (simulated now), ``GET
/_sandbox/stats``, ``POST /_sandbox/faults {"spec": "..."}`` (or ``{"rules": [...]}``; ``{}`` clears),
``POST /_sandbox/reset``.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

import pendulum

from sandbox.app import Outcome, SandboxApp, parse_date
from sandbox.core import HARD, SandboxConfig, SandboxRequest, SandboxResponse, VendorSim
from sandbox.faults import FaultsLike

HUMBLYTICS_PREFIX = "/api/external/v1"  # humblytics-external-analytics-api.txt: all endpoints live here


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: per-request logging would dominate the request path."""

    def handle_one_request(self) -> None:
        """A lean HTTP/1.1 request reader: the stdlib's email-based header parsing costs more than our sims."""
        try:
            line = self.rfile.readline(65537)
        except OSError:  # reset by the peer, or the server is stopping
            line = b""
        if not line:
            self.close_connection = True
            return
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self.close_connection = True
            self._send(Outcome(SandboxResponse.json(400, {"error": "bad_request", "message": "bad request line"})))
            return
        method, target, version = parts
        headers: dict[str, str] = {}
        while True:
            raw = self.rfile.readline(65537)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self._send(self.server.dispatch(SandboxRequest.build(method, target, headers, body)))

    def _send(self, outcome: Outcome) -> None:
        response = outcome.response
        body = response.body
        if outcome.mode == "truncate":  # a body cut mid-JSON whose Content-Length matches the cut
            body = body[: len(body) // 2]
        head = [f"HTTP/1.1 {response.status} {_reason(response.status)}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        if self.close_connection:
            head.append("Connection: close")
        if outcome.mode == "drop":  # full-length headers, half the body, then the connection goes away
            body = body[: len(body) // 2]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        try:
            self.wfile.write(data)
            if outcome.mode == "drop":
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
        except OSError:  # the client gave up (a `slow` fault past its timeout): nothing to tell it
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatch: Callable[[SandboxRequest], Outcome]) -> None:
        self.dispatch = dispatch
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """Kept-alive connections would otherwise keep being served after stop()."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class SandboxServer:
    """A started-on-demand sandbox on ``host:port`` (0 = a free port). Use as a context manager."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        faults: FaultsLike = None,
        port: int = 0,
        host: str = "127.0.0.1",
        latency_ms: float = 0,
        *,
        sims: Sequence[VendorSim] | None = None,
        admin_port: int = 0,
    ) -> None:
        """``admin_port``: where the admin listener goes when ``config.separate_admin_port`` (0 = a free port)."""
        self.app = SandboxApp(config or SandboxConfig(), faults=faults, latency_ms=latency_ms, sims=sims)
        self._address = (host, port)
        self._admin_address = (host, admin_port)
        self._httpd: _HTTPServer | None = None
        self._admin: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._httpd is None:
            self._httpd = self._listen(self._address, self.app.handle, "sandbox")
            if not self.app.admin_on_vendor_port:
                self._admin = self._listen(self._admin_address, self.app.handle_admin, "sandbox-admin")
        return self

    def _listen(
        self, address: tuple[str, int], dispatch: Callable[[SandboxRequest], Outcome], name: str
    ) -> _HTTPServer:
        httpd = _HTTPServer(address, dispatch)
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name=name)
        thread.start()
        self._threads.append(thread)
        return httpd

    def stop(self) -> None:
        if self._httpd is None:
            return
        for httpd in (self._httpd, self._admin):
            if httpd is not None:
                httpd.shutdown()
                httpd.server_close()
                httpd.close_connections()
        for thread in self._threads:
            thread.join(timeout=5)
        self._httpd = self._admin = None
        self._threads = []

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses -----------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    @property
    def admin_port(self) -> int:
        """The port of ``/_sandbox/*``: the vendor port unless the config separates them."""
        if self._admin is None:
            return self.port
        return self._admin.server_address[1]

    @property
    def admin_url(self) -> str:
        """Base URL for ``/_sandbox/*`` requests (``base_url`` unless the admin listener is separate)."""
        return f"http://{self._admin_address[0]}:{self.admin_port}"

    def url_for(self, vendor: str) -> str:
        """The base URL a source for ``vendor`` should be configured with."""
        return self.base_url + HUMBLYTICS_PREFIX if vendor == "humblytics" else self.base_url

    # --- control -------------------------------------------------------------------------------------
    @property
    def config(self) -> SandboxConfig:
        return self.app.config

    def stats(self) -> dict[str, Any]:
        return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        self.app.stats.reset()

    def reset(self) -> None:
        self.app.reset()

    @property
    def request_log(self) -> list[dict[str, Any]]:
        return self.app.stats.log

    def set_today(self, today: Any) -> None:
        self.app.set_today(today)

    def configure(self, **fields: Any) -> None:
        """Change config fields of the running world, e.g. ``configure(clock_step_ms=0)`` stops the simulated
        clock where it stands (``set_today`` first puts it back at the day's ``clock_start_s``)."""
        self.app.configure(**fields)

    def now(self) -> pendulum.DateTime:
        """Simulated now: what the next vendor request sees (``today`` 00:00 UTC while the clock stands still)."""
        return self.app.now()

    def set_faults(self, spec: FaultsLike) -> None:
        self.app.set_faults(spec)


def serve(
    port: int = 8765,
    today: pendulum.Date | str | None = None,
    seed: int = 42,
    latency_ms: float = 0,
    faults: FaultsLike = None,
    *,
    host: str = "127.0.0.1",
    admin_port: int | None = None,
    hard: bool = True,
    **world: Any,
) -> int:
    """Run in the foreground until SIGTERM/SIGINT (``marketing-elt sandbox``); prints the port on one line and,
    when the admin endpoints have their own listener, ``sandbox admin on URL`` on the next.

    ``hard`` (the default) turns on every hardening switch of ``sandbox.core.HARD``; ``world`` then overrides any
    ``SandboxConfig`` field (scale knobs such as ``leads_per_day``, or a switch, e.g. ``separate_admin_port=False``).
    ``admin_port``: the admin listener's port (default: ``port + 1``, or a free one when ``port`` is 0). Without
    ``today`` the simulated day is today (UTC) and, hard, its clock starts at the current time of day, so the
    sandbox's now and a source's now agree.
    """
    fields: dict[str, Any] = dict(HARD) if hard else {}
    if today is not None:
        fields["today"] = parse_date(today)
    elif hard:
        now = pendulum.now("UTC")
        fields["today"] = now.date()
        fields["clock_start_s"] = now.hour * 3600 + now.minute * 60 + now.second
    config = SandboxConfig(seed=seed, **{**fields, **world})
    if admin_port is None:
        admin_port = port + 1 if port else 0
    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    server = SandboxServer(config, faults=faults, port=port, host=host, latency_ms=latency_ms, admin_port=admin_port)
    with server:
        print(
            f"sandbox listening on {server.base_url} (today={config.today.isoformat()}, seed={seed})",
            flush=True,
        )
        if config.separate_admin_port:
            print(f"sandbox admin on {server.admin_url}", flush=True)
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    signal.signal(signal.SIGTERM, previous)
    print("sandbox stopped", file=sys.stderr, flush=True)
    return 0
