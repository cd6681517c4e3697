"""What both HubSpot simulators share: error bodies, auth answers, and the date arithmetic of the worlds.

HubSpot errors carry ``status: "error"``, a ``message`` and a ``correlationId``; the analytics limit errors
add ``errorType`` (hubspot-analytics-api.txt names RESULT_POINT_LIMIT_EXCEEDED, RESULT_LIMIT_EXCEEDED,
SCAN_TIME_EXCEEDED). The correlation id is derived from the request so equal requests get equal bytes.
"""

from __future__ import annotations

import datetime as dt

from sandbox.core import SandboxConfig, SandboxRequest, SandboxResponse, stable_hex

PORTAL_ID = 62515  # the demo portal of hubspot-leads-api.txt's example
DAY_MS = 86_400_000
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

AUTH_MISSING = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
AUTH_INVALID = "The access token provided is invalid or has expired."


def as_uuid(raw: str) -> str:
    """32 hex digits in the 8-4-4-4-12 form of HubSpot's correlation and request ids."""
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


def correlation_id(request: SandboxRequest) -> str:
    return as_uuid(stable_hex(0, request.method, request.path, sorted(request.query.items())))


def error(
    request: SandboxRequest,
    status: int,
    message: str,
    *,
    error_type: str | None = None,
    category: str | None = None,
) -> SandboxResponse:
    body: dict[str, str] = {"status": "error", "message": message}
    if error_type:
        body["errorType"] = error_type
    body["correlationId"] = correlation_id(request)
    if category:
        body["category"] = category
    return SandboxResponse.json(status, body)


def bad_request(request: SandboxRequest, message: str) -> SandboxResponse:
    return error(request, 400, message, category="VALIDATION_ERROR")


def not_found(request: SandboxRequest) -> SandboxResponse:
    return error(request, 404, f"Resource not found: {request.path}", category="OBJECT_NOT_FOUND")


def check_token(request: SandboxRequest, presented: str | None, expected: str) -> SandboxResponse | None:
    """401 when the token is missing or wrong (facts.md: OAuth/private-app token), else None."""
    if not presented:
        return error(request, 401, AUTH_MISSING, category="INVALID_AUTHENTICATION")
    if presented != expected:
        return error(request, 401, AUTH_INVALID, category="INVALID_AUTHENTICATION")
    return None


def world_start_ordinal(config: SandboxConfig) -> int:
    """First day (ordinal) of the world: pinned ``world_start``, else ``today - history_days``."""
    if config.world_start is not None:
        return config.world_start.toordinal()
    return config.today.toordinal() - config.history_days


def day_start_ms(ordinal: int) -> int:
    """Epoch milliseconds of 00:00 UTC on the day with this ordinal."""
    return (ordinal - EPOCH_ORDINAL) * DAY_MS


def parse_bool(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1", "yes")
