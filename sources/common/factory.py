"""The client factory: an `ApiClient` with the user's HTTP settings from dlt config.

Settings live in `[marketing_elt.http]` (env `MARKETING_ELT__HTTP__<KEY>`) and apply to every vendor:
`max_attempts`, `max_total_wait_s`, `backoff_base_s`, `backoff_max_s`, `timeout_s`.
"""

from __future__ import annotations

from typing import Any

import dlt
import httpx

from .client import DEFAULT_REQUEST_IDS, ApiClient, Classifier, RequestIdSource, WaitHint
from .errors import ConfigError
from .ratelimit import RateLimiter
from .retry import RetryPolicy

SECTION = "marketing_elt.http"
DEFAULT_TIMEOUT_S = 30.0


def _number(key: str, default: float, *, integer: bool = False, minimum: float = 0.0) -> Any:
    raw: Any = dlt.config.get(f"{SECTION}.{key}")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or value < minimum:
        env = f"{SECTION.upper().replace('.', '__')}__{key.upper()}"
        raise ConfigError(f"{key} must be a number >= {minimum:g}, got {raw!r}: fix {env} or [{SECTION}] {key}.")
    return value


def retry_policy() -> RetryPolicy:
    """The configured retry budget (defaults: `RetryPolicy()`)."""
    default = RetryPolicy()
    return RetryPolicy(
        max_attempts=_number("max_attempts", default.max_attempts, integer=True, minimum=1),
        max_total_wait_s=_number("max_total_wait_s", default.max_total_wait_s),
        backoff_base_s=_number("backoff_base_s", default.backoff_base_s),
        backoff_max_s=_number("backoff_max_s", default.backoff_max_s),
    )


def make_client(
    vendor: str,
    base_url: str,
    auth: httpx.Auth | None,
    *,
    rate_limiter: RateLimiter | None = None,
    classify: Classifier | None = None,
    credentials_hint: str | None = None,
    wait_hint: WaitHint | None = None,
    request_ids: RequestIdSource = DEFAULT_REQUEST_IDS,
) -> ApiClient:
    """Every vendor client is built here, so timeouts and retries are configured in one place."""
    return ApiClient(
        vendor,
        base_url,
        auth,
        rate_limiter=rate_limiter,
        retry=retry_policy(),
        timeout=_number("timeout_s", DEFAULT_TIMEOUT_S, minimum=0.1),
        classify=classify,
        credentials_hint=credentials_hint,
        wait_hint=wait_hint,
        request_ids=request_ids,
    )
