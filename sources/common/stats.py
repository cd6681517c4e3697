"""Per-run counters (requests, retries, window splits, incomplete answers) per vendor and per source.

Per vendor for the run summary; per source for the run ledger. Sources run side by side (pipelines/runner.py)
and both HubSpot sources draw on vendor "hubspot", so a source's own figures cannot be a difference of vendor
counters: the runner names the source in a context variable (`counting_for`) around that source's work, and
every count made in that context (dlt's extract threads and `ordered_fanout` copy the context) is also
credited to it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

KINDS = ("requests", "retries", "splits", "incomplete")

_CURRENT_SOURCE: ContextVar[str | None] = ContextVar("marketing_elt_current_source", default=None)


def current_source() -> str | None:
    """The source whose work the calling code does, or None outside any `counting_for` block."""
    return _CURRENT_SOURCE.get()


@contextmanager
def counting_for(source: str) -> Iterator[None]:
    """Credit the counts made in this context (and contexts copied from it) to `source`."""
    token = _CURRENT_SOURCE.set(source)
    try:
        yield
    finally:
        _CURRENT_SOURCE.reset(token)


class RunStats:
    """Thread-safe counters keyed by vendor; reads of `requests[vendor]` etc. return 0 for unseen vendors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.splits: Counter[str] = Counter()
        # Answers that did not add up (AttributionHub: records != total_records); the lookback re-reads them.
        self.incomplete: Counter[str] = Counter()
        self._by_source: dict[str, Counter[str]] = {}

    def _add(self, kind: str, vendor: str, n: int) -> None:
        source = _CURRENT_SOURCE.get()
        with self._lock:
            getattr(self, kind)[vendor] += n
            if source is not None:
                self._by_source.setdefault(source, Counter())[kind] += n

    def add_request(self, vendor: str, n: int = 1) -> None:
        self._add("requests", vendor, n)

    def add_retry(self, vendor: str, n: int = 1) -> None:
        self._add("retries", vendor, n)

    def add_split(self, vendor: str, n: int = 1) -> None:
        self._add("splits", vendor, n)

    def add_incomplete(self, vendor: str, n: int = 1) -> None:
        self._add("incomplete", vendor, n)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A consistent copy: `{"requests": {vendor: n}, "retries": {...}, "splits": {...}, "incomplete": {...}}`."""
        with self._lock:
            return {kind: dict(getattr(self, kind)) for kind in KINDS}

    def for_source(self, source: str) -> dict[str, int]:
        """`{"requests": n, "retries": n, "splits": n, "incomplete": n}` counted for `source` in this run."""
        with self._lock:
            counts = self._by_source.get(source, Counter())
            return {kind: counts[kind] for kind in KINDS}

    def reset(self) -> None:
        """Clear in place, so references to the counters stay valid."""
        with self._lock:
            for kind in KINDS:
                getattr(self, kind).clear()
            self._by_source.clear()


RUN_STATS = RunStats()


def snapshot() -> dict[str, dict[str, int]]:
    return RUN_STATS.snapshot()


def reset() -> None:
    RUN_STATS.reset()
