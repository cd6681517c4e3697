"""The HubSpot clients: one shared rate-limit budget, two auth styles, one terminal-429 rule."""

from __future__ import annotations

import httpx

from sources.common.auth import BearerAuth, QueryTokenAuth
from sources.common.client import ApiClient
from sources.common.errors import QuotaExhaustedError
from sources.common.factory import make_client
from sources.common.ratelimit import RateLimiter

from . import settings

# HubSpot counts requests per app across endpoints, so both sources draw from one limiter.
_LIMITER = RateLimiter(*settings.RATE_LIMIT)
TOKEN_HINT = "SOURCES__HUBSPOT__ACCESS_TOKEN"


def _policy(response: httpx.Response) -> str | None:
    """The `policyName` of a 429 body (facts.md: `TEN_SECONDLY_ROLLING`, `DAILY`, ...)."""
    if response.status_code != 429:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("policyName") if isinstance(body, dict) else None


def wait_hint(response: httpx.Response) -> float | None:
    """A TEN_SECONDLY_ROLLING 429 often comes without Retry-After (facts.md); the window frees within its
    10 s, so wait that long instead of short backoffs that can all land inside the same window (as they do
    when another app on the portal spends the budget)."""
    return settings.RATE_LIMIT[1] if _policy(response) == "TEN_SECONDLY_ROLLING" else None


def classify(response: httpx.Response) -> Exception | None:
    """A 429 under the DAILY policy cannot clear by waiting seconds (facts.md: 429 bodies carry policyName)."""
    if _policy(response) != "DAILY":
        return None
    return QuotaExhaustedError(
        "hubspot's daily request limit is spent (429, policy DAILY): the next run after the daily reset "
        "continues where this one stopped.",
        vendor=settings.VENDOR,
        endpoint=str(response.request.url.path),
        status=429,
        url=str(response.request.url),
    )


def _client(base_url: str, auth: httpx.Auth) -> ApiClient:
    return make_client(
        settings.VENDOR,
        base_url,
        auth,
        rate_limiter=_LIMITER,
        classify=classify,
        wait_hint=wait_hint,
        credentials_hint=TOKEN_HINT,
    )


def analytics_client(access_token: str, base_url: str) -> ApiClient:
    return _client(base_url, BearerAuth(access_token))


def leads_client(access_token: str, base_url: str) -> ApiClient:
    # Leads v1 only accepts the token as a query parameter (hubspot-leads-api.txt); redaction masks it.
    return _client(base_url, QueryTokenAuth(settings.LEADS_TOKEN_PARAM, access_token))
