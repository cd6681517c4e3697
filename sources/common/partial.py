"""A vendor's terminal answer keeps what already arrived.

When a resource meets an answer that waiting cannot fix (a spent quota, a daily limit, credentials
revoked mid-run), raising would make dlt discard the whole extract, and the next night would spend the
quota again on the same data. Instead the resource stops cleanly: what it yielded is normalized and
loaded, its cursor covers exactly that, and the failure is recorded here for the runner, which reports
the source failed (exit 1) with the vendor's own words.

The contract for a resource: yield only complete units (a whole date window, a whole page of a list
sorted by its cursor), so that stopping between two units never leaves a gap behind the cursor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

from .errors import VendorError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Stops:
    """Terminal vendor errors met during a run, per source (the dlt source name). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: dict[str, list[VendorError]] = {}

    def record(self, source: str, error: VendorError) -> None:
        with self._lock:
            self._errors.setdefault(source, []).append(error)

    def take(self, source: str) -> list[VendorError]:
        """The distinct errors recorded for `source` (resources side by side often meet the same answer),
        forgetting them so a second run starts clean."""
        with self._lock:
            errors = self._errors.pop(source, [])
        return list({str(e): e for e in errors}.values())

    def reset(self) -> None:
        with self._lock:
            self._errors.clear()


STOPS = Stops()


def keep_until_failure(units: Iterable[T], *, source: str, what: str) -> Iterator[T]:
    """Yield `units` until a `VendorError`; then record it for `source` and end normally.

    Only our typed vendor errors are caught: anything else is a bug and fails the run as usual.
    """
    try:
        yield from units
    except VendorError as exc:
        logger.warning("%s: %s stopped early; what arrived before is kept: %s", source, what, exc)
        STOPS.record(source, exc)
