"""What the sandbox was asked: a request log and counters, so tests can assert "no request was sent" or
"exactly N requests were made". Thread-safe; secrets in query strings are masked before they are stored
(the Leads v1 token travels as ``access_token`` in the URL, hubspot-leads-api.txt)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

SECRET_PARAMS = frozenset({"access_token", "hapikey", "key", "token", "api_key"})
MASK = "***"


def mask_query(query: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {k: [MASK] * len(v) if k.lower() in SECRET_PARAMS else list(v) for k, v in query.items()}


# A sandbox left running (or a million-lead benchmark) must not grow without bound: the log keeps the
# newest entries; the counters count everything.
LOG_LIMIT = 100_000


class RequestStats:
    """Counts per vendor, per vendor endpoint (``"METHOD path"``) and per status, plus the newest log entries."""

    def __init__(self, log_limit: int = LOG_LIMIT) -> None:
        self._lock = threading.Lock()
        self._log_limit = log_limit
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._log: deque[dict[str, Any]] = deque(maxlen=self._log_limit)
            self._total = 0
            self._by_vendor: Counter[str] = Counter()
            self._by_endpoint: Counter[tuple[str, str]] = Counter()
            self._by_status: Counter[int] = Counter()
            self._by_vendor_status: Counter[tuple[str, int]] = Counter()

    def record(
        self,
        vendor: str,
        *,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        status: int,
        faults: list[str] | None = None,
        at_ms: int | None = None,
    ) -> None:
        """``at_ms``: the simulated now the request was answered at (epoch ms)."""
        entry = {
            "vendor": vendor,
            "method": method,
            "path": path,
            "query": mask_query(query),
            "status": status,
            "faults": faults or [],
            "at": at_ms,
        }
        endpoint = f"{method} {path}"
        with self._lock:
            self._log.append(entry)
            self._total += 1
            self._by_vendor[vendor] += 1
            self._by_endpoint[(vendor, endpoint)] += 1
            self._by_status[status] += 1
            self._by_vendor_status[(vendor, status)] += 1

    @property
    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: ``total``, ``by_vendor``, ``by_endpoint`` {vendor: {"GET /path": n}}, ``by_status``
        {"200": n}, ``by_vendor_status`` {vendor: {"429": n}}."""
        with self._lock:
            by_endpoint: dict[str, dict[str, int]] = {}
            for (vendor, endpoint), n in sorted(self._by_endpoint.items()):
                by_endpoint.setdefault(vendor, {})[endpoint] = n
            by_vendor_status: dict[str, dict[str, int]] = {}
            for (vendor, status), n in sorted(self._by_vendor_status.items()):
                by_vendor_status.setdefault(vendor, {})[str(status)] = n
            return {
                "total": self._total,
                "by_vendor": dict(sorted(self._by_vendor.items())),
                "by_endpoint": by_endpoint,
                "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
                "by_vendor_status": by_vendor_status,
            }
