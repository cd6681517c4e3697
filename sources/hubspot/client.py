"""The HubSpot clients: one shared rate-limit budget, two auth styles, HubSpot's meanings of its answers."""

from __future__ import annotations

import httpx

from sources.common.auth import BearerAuth, QueryTokenAuth
from sources.common.client import ApiClient, RequestIdSource, Terminal, json_object
from sources.common.errors import LimitExceededError, QuotaExhaustedError
from sources.common.factory import make_client
from sources.common.ratelimit import RateLimiter
from sources.common.redaction import register_sensitive_param

from . import settings

# HubSpot counts requests per app across endpoints, so both sources draw from one limiter.
_LIMITER = RateLimiter(*settings.RATE_LIMIT)
TOKEN_HINT = "SOURCES__HUBSPOT__ACCESS_TOKEN"
# HubSpot's support asks for the correlation id, sent as a header and in error bodies.
REQUEST_IDS = RequestIdSource(headers=("x-hubspot-correlation-id",), body_keys=("correlationId", "requestId"))
# Legacy HubSpot API keys travel as `?hapikey=`: mask them in any URL we print, registered or not.
register_sensitive_param("hapikey")


def _policy(response: httpx.Response) -> str | None:
    """The `policyName` of a 429 body (facts.md: `TEN_SECONDLY_ROLLING`, `DAILY`, ...)."""
    body = json_object(response) if response.status_code == 429 else None
    policy = body.get("policyName") if body else None
    return policy if isinstance(policy, str) else None


def wait_hint(response: httpx.Response) -> float | None:
    """A TEN_SECONDLY_ROLLING 429 often comes without Retry-After (facts.md); the window frees within its
    10 s, so wait that long instead of short backoffs that can all land inside the same window (as they do
    when another app on the portal spends the budget)."""
    return settings.RATE_LIMIT[1] if _policy(response) == "TEN_SECONDLY_ROLLING" else None


def classify(response: httpx.Response) -> Terminal | None:
    """HubSpot answers that no retry can fix.

    - 413 RESULT_POINT_LIMIT_EXCEEDED, 501 RESULT_LIMIT_EXCEEDED / SCAN_TIME_EXCEEDED: the same request
      fails again, a narrower date range can succeed (hubspot-analytics-api.txt, facts.md).
    - 429 under the DAILY policy: waiting seconds cannot clear it (facts.md: 429 bodies carry policyName).
    """
    if response.status_code in (413, 501):
        return Terminal(LimitExceededError, "refused a request over its result limit", "narrow the date range.")
    if _policy(response) == "DAILY":
        return Terminal(
            QuotaExhaustedError,
            "has no requests left today (policy DAILY)",
            "what arrived before is loaded; the next run after HubSpot's daily reset continues from there.",
        )
    return None


def _client(base_url: str, auth: httpx.Auth) -> ApiClient:
    return make_client(
        settings.VENDOR,
        base_url,
        auth,
        rate_limiter=_LIMITER,
        classify=classify,
        wait_hint=wait_hint,
        credentials_hint=TOKEN_HINT,
        request_ids=REQUEST_IDS,
    )


def analytics_client(access_token: str, base_url: str) -> ApiClient:
    return _client(base_url, BearerAuth(access_token))


def leads_client(access_token: str, base_url: str) -> ApiClient:
    # Leads v1 only accepts the token as a query parameter (hubspot-leads-api.txt); redaction masks it.
    return _client(base_url, QueryTokenAuth(settings.LEADS_TOKEN_PARAM, access_token))
