"""Error bodies in every shape the vendors send, for the answers the sandbox makes up (faults, rate limits).

Shape 0 of each list is the canonical one (the vendor's documented or published shape, what the sandbox
always sent before); with ``SandboxConfig.error_variants`` the server rotates through all of them, so a
client that needs a particular key in an error body (rather than the status) is caught. What the documents
allow, per vendor:

- HubSpot: JSON ``{status: "error", message, correlationId, ...}`` with optional ``category``, ``errors``
  and ``links``; 429s always carry ``policyName`` (facts.md) but not always ``errorType`` or ``requestId``;
  a 5xx may come with no body or a plain-text one (the documents promise no body for them).
- Humblytics: ``{"error": "<code>", "message": "<text>"}`` (facts.md, assumed); the message may be missing,
  and a 429/500 from its edge can be plain text.
- AttributionHub: ``{"error": "..."}`` (the quota example in facts.md), or ``{"message": "..."}`` like its
  no-results answers, or both.
- 502/503/504 from any load balancer: an HTML page, or nothing at all.
The semantic answers of the simulators (401, 400, 413/501, the monthly quota) keep their one shape: a client
may rely on what the documents name there.
"""

from __future__ import annotations

from typing import Any

import orjson

from sandbox.core import SandboxResponse, stable_hex
from sandbox.hubspot_common import as_uuid

JSON = "application/json"
HUMBLYTICS_RATE_LIMIT_MESSAGE = "Too many requests in a short window."


def _reason(status: int) -> str:
    return {429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
        status, "Internal Server Error"
    )


def hubspot_rate_limit_body(policy: str, correlation_id: str, request_id: str) -> dict[str, str]:
    """A HubSpot 429 body for ``policy`` with its ids; ``DAILY`` says "You have reached your daily limit.".

    facts.md records only the policyName values; the keys and their order follow HubSpot's public 429 example,
    which no document in vendor-docs/ reproduces (an assumption: keep it here, in one place).
    """
    return {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id,
        "policyName": policy,
        "requestId": request_id,
    }


def _shapes(vendor: str, status: int, policy: str | None, ids: tuple[object, ...]) -> list[tuple[Any, str]]:
    """(body, content type) candidates; a body of ``bytes`` goes out as is, anything else as JSON."""
    if status in (502, 503, 504):
        title = f"{status} {_reason(status)}"
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return [(page.encode(), "text/html"), (b"", "text/html"), (_vendor_json(vendor, 500, policy, ids), JSON)]
    if vendor.startswith("hubspot"):
        correlation = as_uuid(stable_hex(0, "fault", *ids, "correlationId"))
        if status == 429:
            full = hubspot_rate_limit_body(policy or "TEN_SECONDLY_ROLLING", correlation, _request_id(ids))
            bare = {k: v for k, v in full.items() if k != "requestId"}
            listed = {k: v for k, v in full.items() if k not in ("errorType", "requestId")}
            listed["errors"] = [{"message": full["message"]}]
            return [(full, JSON), (bare, JSON), (listed, JSON)]
        body = _vendor_json(vendor, status, policy, ids)
        rich = {**body, "category": "INTERNAL_ERROR", "errors": [{"message": body["message"]}], "links": {}}
        return [(body, JSON), (rich, JSON), (b"", JSON), (_reason(status).encode(), "text/plain")]
    if vendor == "humblytics":
        code = "rate_limited" if status == 429 else "internal_error"
        full = _vendor_json(vendor, status, policy, ids)
        return [(full, JSON), ({"error": code}, JSON), (_reason(status).encode(), "text/plain")]
    words = "Too many requests." if status == 429 else "Internal server error."
    return [({"error": words}, JSON), ({"message": words}, JSON), ({"error": _reason(status), "message": words}, JSON)]


def _request_id(ids: tuple[object, ...]) -> str:
    return as_uuid(stable_hex(0, "fault", *ids, "requestId"))


def _vendor_json(vendor: str, status: int, policy: str | None, ids: tuple[object, ...]) -> dict[str, Any]:
    """The canonical JSON error of ``vendor`` for ``status``."""
    if vendor.startswith("hubspot"):
        correlation = as_uuid(stable_hex(0, "fault", *ids, "correlationId"))
        if status == 429:
            return hubspot_rate_limit_body(policy or "TEN_SECONDLY_ROLLING", correlation, _request_id(ids))
        return {"status": "error", "message": "internal error", "correlationId": correlation}
    if vendor == "humblytics":
        if status == 429:
            return {"error": "rate_limited", "message": HUMBLYTICS_RATE_LIMIT_MESSAGE}
        return {"error": "internal_error", "message": "injected"}
    return {"error": "Too many requests." if status == 429 else "Internal server error."}


def shape_count(vendor: str, status: int) -> int:
    return len(_shapes(vendor, status, None, ()))


def vendor_error(
    vendor: str,
    status: int,
    *,
    retry_after: float | None = None,
    policy: str | None = None,
    ids: tuple[object, ...] = (),
    variant: int = 0,
) -> SandboxResponse:
    """An error answer in shape ``variant`` (modulo the shapes there are; 0 = canonical).

    ``policy`` is a HubSpot 429's policyName (default TEN_SECONDLY_ROLLING); ``ids`` seeds the HubSpot ids,
    which also go out in an ``X-HubSpot-Correlation-Id`` header whatever the body looks like.
    """
    shapes = _shapes(vendor, status, policy, ids)
    body, content_type = shapes[variant % len(shapes)]
    headers = {"Content-Type": content_type}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    if vendor.startswith("hubspot") and status not in (502, 503, 504):
        headers["X-HubSpot-Correlation-Id"] = as_uuid(stable_hex(0, "fault", *ids, "correlationId"))
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return SandboxResponse(status, raw, headers)
