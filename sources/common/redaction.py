"""Mask secrets wherever text leaves the process: logs, error messages, stored URLs.

Leads v1 takes its token in the query string (hubspot-leads-api.txt), so any URL we print could carry
it. Two nets: every secret an auth object registers is masked verbatim (and URL-encoded), and the values
of well-known credential query parameters are masked even when nobody registered them.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

MASK = "***"
# Credential query parameters masked even when no auth object registered their value; a vendor adds its
# own with `register_sensitive_param` (HubSpot's `hapikey`).
SENSITIVE_PARAMS = (
    "access_token",
    "access-token",
    "api_key",
    "api-key",
    "apikey",
    "client_secret",
    "password",
    "token",
    "key",
)

_lock = threading.Lock()
_secrets: set[str] = set()
# Longest first, so a secret that contains another is masked whole; replaced whole, read without the lock.
_ordered: list[tuple[str, ...]] = [()]


def _param_re(names: tuple[str, ...]) -> re.Pattern[str]:
    """`name=value` in a URL query or in `k=v` log text; the lookbehind keeps `monkey=` and `api_key_id=` out."""
    return re.compile(r"(?i)(?<![\w-])(" + "|".join(re.escape(p) for p in names) + r")=([^&\s#\"'<>,;)]+)")


_params: list[str] = list(SENSITIVE_PARAMS)
_PARAM_RE = [_param_re(SENSITIVE_PARAMS)]  # replaced whole, read without the lock
_BEARER_RE = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")


def register_secret(value: str | None) -> None:
    """Remember a secret so `redact()` masks it, raw and URL-encoded. Blank values are ignored."""
    if value is None or not str(value).strip():
        return
    text = str(value)
    with _lock:
        _secrets.update({text, quote(text, safe=""), quote_plus(text)})
        _ordered[0] = tuple(sorted(_secrets, key=len, reverse=True))


def register_sensitive_param(name: str) -> None:
    """Mask the value of query parameter `name` wherever it appears, registered secret or not."""
    with _lock:
        if name.lower() not in _params:
            _params.append(name.lower())
            _PARAM_RE[0] = _param_re(tuple(_params))


def redact(text: Any) -> str:
    """`text` as a string with every registered secret and credential query value masked."""
    out = str(text)
    for secret in _ordered[0]:
        if secret in out:
            out = out.replace(secret, MASK)
    out = _PARAM_RE[0].sub(lambda m: f"{m.group(1)}={MASK}", out)
    return _BEARER_RE.sub(lambda m: f"{m.group(1)}{MASK}", out)


def redact_url(url: str | httpx.URL) -> str:
    """A URL safe to log or raise: credential query values and registered secrets masked."""
    return redact(str(url))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and formatted traceback) with secrets masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    if not record.args and getattr(record, "_redacted_msg", None) is record.msg:
        return  # already done (factory then filter); a record edited since then is redone
    try:
        message = record.getMessage()
    except Exception:  # a malformed %-format: keep the raw parts, masked
        message = f"{record.msg} {record.args}"
    record.msg = redact(message)
    record.args = ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._redacted_msg = record.msg


_install_lock = threading.Lock()
_installed: set[str] = set()  # holds "factory" once the record factory is wrapped
_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Mask secrets in every log record, whichever logger or handler (present or future) sees it.

    The record factory redacts at creation, which covers handlers added later (pytest's caplog, dlt's
    own); the filter on the root and `dlt` handlers covers records built without the factory. Idempotent.
    """
    with _install_lock:
        if "factory" not in _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _redact_record(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed.add("factory")
        for logger in (logging.getLogger(), logging.getLogger("dlt")):
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
            for handler in logger.handlers:
                if _FILTER not in handler.filters:
                    handler.addFilter(_FILTER)
