"""The AttributionHub client: `Authentication` header, the monthly quota as a terminal answer, and an
optional per-run request budget."""

from __future__ import annotations

import threading

import httpx

from sources.common.auth import HeaderKeyAuth
from sources.common.client import ApiClient, Terminal, json_object
from sources.common.errors import ConfigError, QuotaExhaustedError
from sources.common.factory import make_client
from sources.common.ratelimit import RateLimiter

from . import settings

API_KEY_HINT = "SOURCES__ATTRIBUTIONHUB__API_KEY"
BUDGET_HINT = "SOURCES__ATTRIBUTIONHUB__MAX_REQUESTS_PER_RUN"


def classify(response: httpx.Response) -> Terminal | None:
    """The monthly quota's 429 is terminal: waiting does not help within the month (facts.md), so the
    source stops at once, keeps what it loaded, and the message quotes the vendor's `limit` and `used`.

    Any other 429 stays a transient answer (retried, `Retry-After` honoured).
    """
    body = json_object(response) if response.status_code == 429 else None
    if body is None or (body.get("error") != settings.QUOTA_ERROR and "used" not in body):
        return None
    return Terminal(
        QuotaExhaustedError,
        f"monthly request quota is spent (limit {body.get('limit')}, used {body.get('used')})",
        "wait for next month's quota or raise the plan; the next run continues from the cursors.",
    )


class RequestBudget(RateLimiter):
    """At most `max_requests` requests (retries included) in one run; the next raises QuotaExhaustedError.

    So a backfill cannot spend the month's vendor quota by accident. It plugs into the client's rate-limit
    hook because that hook runs before every attempt; the sliding window of a RateLimiter is not used.
    """

    def __init__(self, max_requests: int) -> None:
        super().__init__(max_requests, float("inf"))
        self.used = 0
        self._budget_lock = threading.Lock()
        # One error for the run, as the client keeps one for a spent quota: every resource stops on the same.
        self._spent = QuotaExhaustedError(
            f"{settings.VENDOR} used its budget of {max_requests} requests for this run (max_requests_per_run): "
            f"run again to continue, or raise {BUDGET_HINT}.",
            vendor=settings.VENDOR,
            endpoint="max_requests_per_run",
        )

    def acquire(self) -> None:
        with self._budget_lock:
            if self.used < self.max_requests:
                self.used += 1
                return
        raise self._spent

    def __repr__(self) -> str:
        return f"RequestBudget({self.used}/{self.max_requests})"


def request_budget(max_requests_per_run: int | None) -> RequestBudget | None:
    """None (no budget) when unset; a positive integer otherwise."""
    if max_requests_per_run is None:
        return None
    if isinstance(max_requests_per_run, bool) or not isinstance(max_requests_per_run, int) or max_requests_per_run < 1:
        raise ConfigError(
            f"max_requests_per_run must be a whole number >= 1, got {max_requests_per_run!r}: fix {BUDGET_HINT}."
        )
    return RequestBudget(max_requests_per_run)


def attributionhub_client(api_key: str, base_url: str, *, max_requests_per_run: int | None = None) -> ApiClient:
    """Filters travel in a JSON body (both documents); `post_json` sends it with the JSON content type."""
    return make_client(
        settings.VENDOR,
        base_url,
        HeaderKeyAuth(settings.AUTH_HEADER, api_key),
        rate_limiter=request_budget(max_requests_per_run),
        classify=classify,
        credentials_hint=API_KEY_HINT,
    )
