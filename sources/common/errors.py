"""Typed errors. `str(err)` is one sentence a user can act on; the details ride along as attributes.

Every message and attribute passes through `redact()` at construction, so no secret can reach a log,
a traceback or a stored run report through an error.
"""

from __future__ import annotations

from .redaction import redact, redact_url

VENDOR_MESSAGE_MAX = 200


def truncate(text: str, limit: int = VENDOR_MESSAGE_MAX) -> str:
    """Cut a vendor body/message to `limit` characters, marking the cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class MarketingEltError(Exception):
    """Base of the project's errors; `str()` is one user-facing sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(MarketingEltError):
    """A configuration value is missing or malformed; nothing was requested."""


class VendorError(MarketingEltError):
    """A vendor API call failed. Carries status, redacted URL, the vendor's message and its request id."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        endpoint: str,
        status: int | None = None,
        url: str | None = None,
        vendor_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        if request_id and request_id not in message:  # support asks for it: the sentence carries it
            message = f"{message.removesuffix('.')} (request id {request_id})."
        super().__init__(message)
        self.vendor = vendor
        self.endpoint = endpoint
        self.status = status
        self.url = redact_url(url) if url is not None else None
        self.vendor_message = truncate(redact(vendor_message)) if vendor_message else None
        self.request_id = request_id

    def details(self) -> str:
        """A multi-line diagnostic for logs and bug reports (all fields redacted)."""
        lines = [self.message]
        for label, value in (
            ("vendor", self.vendor),
            ("endpoint", self.endpoint),
            ("status", self.status),
            ("url", self.url),
            ("vendor message", self.vendor_message),
            ("request id", self.request_id),
        ):
            if value is not None:
                lines.append(f"  {label}: {value}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, vendor={self.vendor!r}, endpoint={self.endpoint!r}, "
            f"status={self.status!r}, request_id={self.request_id!r})"
        )


class AuthError(VendorError):
    """401/403: the credentials are wrong, expired or lack a scope. Retrying cannot help."""


class BadRequestError(VendorError):
    """400/404/422 (and other 4xx): the request itself is wrong. Retrying cannot help."""


class LimitExceededError(VendorError):
    """A vendor's points/scan/range limit (HubSpot 413/501, Humblytics' "range too large" 400): retrying
    cannot help, a narrower window can (`windows.fetch_with_split`)."""


class QuotaExhaustedError(VendorError):
    """A 429 that waiting cannot fix (e.g. AttributionHub's monthly quota): stop and keep what loaded."""


class RetriesExhaustedError(VendorError):
    """Transient failures (timeouts, 429, 5xx) outlasted the retry policy."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        endpoint: str,
        attempts: int = 0,
        status: int | None = None,
        url: str | None = None,
        vendor_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            vendor=vendor,
            endpoint=endpoint,
            status=status,
            url=url,
            vendor_message=vendor_message,
            request_id=request_id,
        )
        self.attempts = attempts


class PaginationError(VendorError):
    """Pagination cannot continue safely (a repeated page request, or page state missing)."""


class ResponseFormatError(VendorError):
    """The body could not be decoded (after retries) or does not have the documented shape."""
