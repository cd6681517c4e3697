"""Per-run counters (requests, retries, window splits, incomplete answers per vendor) for the run summary."""

from __future__ import annotations

import threading
from collections import Counter


class RunStats:
    """Thread-safe counters keyed by vendor; reads of `requests[vendor]` etc. return 0 for unseen vendors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.splits: Counter[str] = Counter()
        # Answers that did not add up (AttributionHub: records != total_records); the lookback re-reads them.
        self.incomplete: Counter[str] = Counter()

    def add_request(self, vendor: str, n: int = 1) -> None:
        with self._lock:
            self.requests[vendor] += n

    def add_retry(self, vendor: str, n: int = 1) -> None:
        with self._lock:
            self.retries[vendor] += n

    def add_split(self, vendor: str, n: int = 1) -> None:
        with self._lock:
            self.splits[vendor] += n

    def add_incomplete(self, vendor: str, n: int = 1) -> None:
        with self._lock:
            self.incomplete[vendor] += n

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A consistent copy: `{"requests": {vendor: n}, "retries": {...}, "splits": {...}, "incomplete": {...}}`."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "retries": dict(self.retries),
                "splits": dict(self.splits),
                "incomplete": dict(self.incomplete),
            }

    def reset(self) -> None:
        """Clear in place, so references to the counters stay valid."""
        with self._lock:
            self.requests.clear()
            self.retries.clear()
            self.splits.clear()
            self.incomplete.clear()


RUN_STATS = RunStats()


def snapshot() -> dict[str, dict[str, int]]:
    return RUN_STATS.snapshot()


def reset() -> None:
    RUN_STATS.reset()
