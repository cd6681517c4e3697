"""`ApiClient`: one httpx client per vendor with rate limiting, retries and typed errors.

What is retried (transient: a later identical request can succeed): transport errors and timeouts,
429 (unless the vendor's `classify` hook calls it terminal), 500/502/503/504, and 2xx bodies that are
not valid JSON (truncated). What is not: 400/404/422 (the request is wrong), 401/403 (credentials), and
whatever a vendor's `classify` calls terminal (HubSpot's 413/501 result limits, Humblytics' "range too
large" 400, a spent quota): vendor meanings live with the vendor, not here.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from .errors import (
    AuthError,
    BadRequestError,
    QuotaExhaustedError,
    ResponseFormatError,
    RetriesExhaustedError,
    VendorError,
    truncate,
)
from .ratelimit import RateLimiter
from .redaction import install_log_redaction, redact, redact_url
from .retry import RetryPolicy, next_wait, parse_retry_after
from .stats import RUN_STATS

logger = logging.getLogger(__name__)

try:
    __version__ = version("marketing-elt")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

USER_AGENT = f"marketing-elt/{__version__} (+https://github.com/marketing-elt)"
CONNECT_TIMEOUT_S = 10.0
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class RequestIdSource:
    """Where a vendor puts the id its support asks for: response headers first, then JSON body keys."""

    headers: tuple[str, ...] = ("x-request-id",)
    body_keys: tuple[str, ...] = ("request_id", "requestId")


@dataclass(frozen=True)
class Terminal:
    """A vendor's verdict that an answer is final. The client words it as one sentence:
    `<vendor> <what> (<status>) on <endpoint> (<vendor's words>): <todo>` and adds the request id."""

    kind: type[VendorError]
    what: str
    todo: str


Classifier = Callable[[httpx.Response], Terminal | None]
DEFAULT_REQUEST_IDS = RequestIdSource()
# The vendor's documented wait for a retried answer that carries no Retry-After header (seconds), or None.
WaitHint = Callable[[httpx.Response], float | None]
Decoder = Callable[[bytes], Any]  # a response body → its payload; raises ValueError on a body that is not JSON


@dataclass(frozen=True)
class _Failure:
    """A transient failure of one attempt, as plain data so no httpx exception reaches the error chain."""

    reason: str
    status: int | None = None
    url: str | None = None
    retry_after_s: float | None = None
    vendor_message: str | None = None
    request_id: str | None = None
    undecodable: bool = False


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def request_id_of(response: httpx.Response, source: RequestIdSource = DEFAULT_REQUEST_IDS) -> str | None:
    """The vendor's request/correlation id, from its header or its JSON error body."""
    for header in source.headers:
        if value := response.headers.get(header):
            return str(value)
    body = _try_json(response)
    if isinstance(body, dict):
        for key in source.body_keys:
            value = body.get(key)
            if isinstance(value, str):
                return value
    return None


def _try_json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """An (error) response's body when it is a JSON object: what vendors' `classify` hooks read."""
    body = _try_json(response)
    return body if isinstance(body, dict) else None


def vendor_message_of(response: httpx.Response) -> str | None:
    """The vendor's own words about a failure: `code: message` from a JSON body, else the raw text."""
    body = _try_json(response)
    if isinstance(body, dict):
        message = body.get("message") or body.get("error_description")
        code = next(
            (
                body[k]
                for k in ("errorType", "category", "error", "policyName", "subCategory")
                if isinstance(body.get(k), str) and body[k] != message
            ),
            None,
        )
        parts = [str(p) for p in (code, message) if p]
        if parts:
            return truncate(redact(": ".join(parts)))
    text = response.text.strip()
    return truncate(redact(text)) if text else None


class ApiClient:
    """A vendor's HTTP client: `request`, `get_json`, `post_json`; use as a context manager to close it.

    `classify(response)` sees every response with status >= 300 before the built-in rules and may return
    a `Terminal` verdict (AttributionHub's monthly-quota 429, HubSpot's 413/501); None keeps the default
    handling. After a `QuotaExhaustedError` or a 401 the client sends nothing more: every later call raises
    it again at once, so parallel resources do not each spend a request to learn the same thing.
    Thread-safe: one client may serve dlt's parallel resources.
    """

    def __init__(
        self,
        vendor: str,
        base_url: str,
        auth: httpx.Auth | None = None,
        *,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = 30.0,
        classify: Classifier | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        headers: Mapping[str, str] | None = None,
        credentials_hint: str | None = None,
        wait_hint: WaitHint | None = None,
        request_ids: RequestIdSource = DEFAULT_REQUEST_IDS,
    ) -> None:
        """`credentials_hint` names what to fix on 401/403 (default: the `SOURCES__<VENDOR>__` keys);
        `wait_hint` stands in for a missing `Retry-After` where the vendor documents its window;
        `request_ids` says where the vendor puts its request id."""
        install_log_redaction()  # httpx logs full URLs at INFO; Leads v1 URLs hold the token
        self.vendor = vendor
        self.base_url = base_url
        self.retry = retry
        self.rate_limiter = rate_limiter
        self.classify = classify
        self.wait_hint = wait_hint
        self.request_ids = request_ids
        self._spent: VendorError | None = None  # a spent quota or rejected credentials: nothing more is sent
        self.credentials_hint = credentials_hint or f"the {vendor} credentials (SOURCES__{vendor.upper()}__*)"
        self._sleep = sleep
        self._rand = random.random
        self._http = httpx.Client(
            base_url=base_url,
            auth=auth,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            transport=transport,
        )

    # --- public API ---------------------------------------------------------------------------------

    def request_decoded(
        self,
        method: str,
        path: str,
        *,
        endpoint: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        decode: Decoder = orjson.loads,
    ) -> tuple[httpx.Response, Any]:
        """Send with retries; the response (headers for paginators) and its body decoded once, by `decode`
        (which raises ValueError on a body that is not JSON: a truncated body is retried like a dropped one)."""
        return self._send(method, path, endpoint or path, params, json, decode)

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send with retries and return the decoded JSON body (a truncated body is retried too)."""
        return self.request_decoded(method, path, **kwargs)[1]

    def get_json(self, path: str, *, endpoint: str | None = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.request_json("GET", path, endpoint=endpoint, params=params)

    def post_json(self, path: str, *, endpoint: str | None = None, json: Any = None) -> Any:
        return self.request_json("POST", path, endpoint=endpoint, json=json)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ApiClient({self.vendor!r}, {redact_url(self.base_url)!r})"

    # --- the loop -----------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        json: Any,
        decode: Decoder,
    ) -> tuple[httpx.Response, Any]:
        if self._spent is not None:
            raise self._spent
        content = None if json is None else orjson.dumps(json, default=_json_default)
        headers = None if json is None else {"Content-Type": "application/json"}
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            RUN_STATS.add_request(self.vendor)
            request = self._http.build_request(method, path, params=params, content=content, headers=headers)
            failure = self._attempt(request, endpoint, decode)
            if not isinstance(failure, _Failure):
                if self.rate_limiter is not None:
                    self.rate_limiter.succeeded()
                return failure
            wait = next_wait(self.retry, attempt, waited, failure.retry_after_s, self._rand)
            if wait is None:
                raise self._exhausted(failure, endpoint, attempt)
            RUN_STATS.add_retry(self.vendor)
            if failure.status == 429 and self.rate_limiter is not None:
                self.rate_limiter.refused()  # the vendor's budget is smaller than ours: slow down for good
                self.rate_limiter.hold(wait)  # every worker on this vendor's budget backs off, not only this one
            logger.warning(
                "%s %s: %s on %s %s; retry %d/%d in %.2f s",
                self.vendor,
                endpoint,
                failure.reason,
                method,
                failure.url or redact_url(request.url),
                attempt,
                self.retry.max_attempts - 1,
                wait,
            )
            self._sleep(wait)
            waited += wait

    def _attempt(self, request: httpx.Request, endpoint: str, decode: Decoder) -> tuple[httpx.Response, Any] | _Failure:
        """One try: the response (and payload), a transient `_Failure`, or a raised terminal error.

        Exceptions are turned into data inside `except` and raised outside it, so the httpx exception
        (whose text can hold the token-bearing URL) never becomes the typed error's `__context__`.
        """
        try:
            response = self._http.send(request)  # reads the whole body: a dropped connection raises here
        except httpx.TransportError as exc:
            return _Failure(reason=f"{type(exc).__name__} ({truncate(redact(exc), 120)})", url=redact_url(request.url))
        url = redact_url(response.request.url)
        terminal = self._terminal_error(response, endpoint, url)
        if terminal is not None:
            if isinstance(terminal, QuotaExhaustedError) or terminal.status == 401:
                self._spent = terminal
            raise terminal
        if response.status_code in RETRIED_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            asked = f", Retry-After {retry_after:g} s" if retry_after is not None else ""
            if retry_after is None and self.wait_hint is not None:
                retry_after = self.wait_hint(response)
                asked = f", no Retry-After: waiting out the vendor's {retry_after:g} s window" if retry_after else ""
            return _Failure(
                reason=f"HTTP {response.status_code}{asked}",
                status=response.status_code,
                url=url,
                retry_after_s=retry_after,
                vendor_message=vendor_message_of(response),
                request_id=request_id_of(response, self.request_ids),
            )
        if response.status_code == 204:
            return response, None
        try:
            payload = decode(response.content)
        except ValueError:  # orjson.JSONDecodeError is one
            return _Failure(
                reason=f"undecodable JSON body ({len(response.content)} bytes)",
                status=response.status_code,
                url=url,
                vendor_message=truncate(redact(response.text)) or None,
                request_id=request_id_of(response, self.request_ids),
                undecodable=True,
            )
        return response, payload

    def _terminal_error(self, response: httpx.Response, endpoint: str, url: str) -> VendorError | None:
        """The error to raise at once for this response, or None (success or transient)."""
        status = response.status_code
        if status < 300:
            return None
        verdict = self.classify(response) if self.classify is not None else None
        if verdict is None and status in RETRIED_STATUSES:
            return None
        if verdict is None:
            verdict = self._default_verdict(status)
        vendor_message = vendor_message_of(response)
        said = f" ({vendor_message})" if vendor_message else ""
        return verdict.kind(
            f"{self.vendor} {verdict.what} ({status}) on {endpoint}{said}: {verdict.todo}",
            vendor=self.vendor,
            endpoint=endpoint,
            status=status,
            url=url,
            vendor_message=vendor_message,
            request_id=request_id_of(response, self.request_ids),
        )

    def _default_verdict(self, status: int) -> Terminal:
        if status == 401:
            return Terminal(AuthError, "rejected the credentials", f"check {self.credentials_hint}.")
        if status == 403:
            todo = f"check that {self.credentials_hint} grant the scope/permission this endpoint needs."
            return Terminal(AuthError, "refused access", todo)
        if 400 <= status < 500:
            return Terminal(BadRequestError, "rejected the request", "fix the request parameters or config.")
        return Terminal(VendorError, "answered with an unexpected status", "report it with the request id.")

    def _exhausted(self, failure: _Failure, endpoint: str, attempts: int) -> VendorError:
        common: dict[str, Any] = {
            "vendor": self.vendor,
            "endpoint": endpoint,
            "status": failure.status,
            "url": failure.url,
            "vendor_message": failure.vendor_message,
            "request_id": failure.request_id,
        }
        if failure.undecodable:
            return ResponseFormatError(
                f"{self.vendor} kept sending an undecodable JSON body on {endpoint} "
                f"({attempts} attempts): try again later or report it with the request id.",
                **common,
            )
        return RetriesExhaustedError(
            f"{self.vendor} kept failing on {endpoint} ({failure.reason}, {attempts} attempts): try again later.",
            attempts=attempts,
            **common,
        )
