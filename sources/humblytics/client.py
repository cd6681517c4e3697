"""The Humblytics client: Bearer key, and Humblytics' meanings of its answers (classify)."""

from __future__ import annotations

import httpx
import orjson

from sources.common.auth import BearerAuth
from sources.common.client import ApiClient, Terminal
from sources.common.errors import AuthError, LimitExceededError
from sources.common.factory import make_client
from sources.common.ratelimit import RateLimiter

from . import settings
from .parse import error_message

CREDENTIALS_HINT = f"{settings.KEY_HINT} and {settings.PROPERTY_HINT}"


def _message(response: httpx.Response) -> str:
    try:
        return error_message(orjson.loads(response.content))
    except orjson.JSONDecodeError:
        return response.text.lower()


def classify(response: httpx.Response) -> Terminal | None:
    """Humblytics answers that no retry can fix, worded so the user knows which one.

    - 400 "range too large": the 500-bucket limit (the document: "ranges that are too large" → 400;
      "Maximum of 500 buckets per request"); a narrower window can succeed, so `fetch_with_split` bisects.
    - 403 is two different mistakes (the document, Errors: "Property ID does not match the API key or the
      key does not have metrics permission"); the vendor's message says which.
    - 401: the key is missing or invalid (the document, Errors).
    429 `rate_limited` is left to the retry loop: the document gives no window ("limits will evolve with
    usage"), so there is no wait hint; a `Retry-After` is honoured when sent.
    """
    status = response.status_code
    if status == 400 and "range too large" in _message(response):
        return Terminal(LimitExceededError, "refused a range over its 500-bucket limit", "narrow the date range.")
    if status == 401:
        return Terminal(AuthError, "rejected the API key", f"check {settings.KEY_HINT}.")
    if status == 403:
        message = _message(response)
        if "permission" in message:
            return Terminal(
                AuthError,
                "refused an API key without the `metrics` permission",
                f"enable `metrics` for the key (Humblytics: Utilities → API) or set {settings.KEY_HINT} "
                "to a key that has it.",
            )
        if "property" in message:
            return Terminal(
                AuthError,
                "refused a property the API key does not belong to",
                f"set {settings.PROPERTY_HINT} to the key's property or {settings.KEY_HINT} to a key of this property.",
            )
        return Terminal(AuthError, "refused access", f"check {CREDENTIALS_HINT}.")
    return None


_LIMITER = RateLimiter(*settings.RATE_LIMIT)


def humblytics_client(api_key: str, base_url: str) -> ApiClient:
    """`Authorization: Bearer <key>` (the document, Authentication); timeouts and retries from config."""
    return make_client(
        settings.VENDOR,
        base_url,
        BearerAuth(api_key),
        rate_limiter=_LIMITER,
        classify=classify,
        credentials_hint=CREDENTIALS_HINT,
    )
