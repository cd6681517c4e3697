"""Fetch ahead: a worker thread produces the next items of an iterator while the caller uses this one.

Why: a paging loop whose next request depends on the page before it (keyset paging, sources/common/keyset.py)
cannot send its requests in parallel, but the caller's work on a page (decoding it into arrow, dlt writing
it) can overlap the next page's round trip. Measured on Leads (100 leads a page): see README "Performance".

What stays as without it: items arrive in order; an exception the iterator raises is raised to the caller
in its place (after the items before it); `keep_until_failure` wrapped inside still ends the pages cleanly.
Closing the result (the caller stops early) stops the worker at its next item and closes the iterator.
The iterator runs in the worker thread only, so it needs nothing thread-safe of its own; what it shares
(rate limiters, `STOPS`, the pinned clock) already is.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()
_POLL_S = 0.05  # how often a worker waiting to hand over an item checks whether the caller left


def prefetched(items: Iterable[T], *, ahead: int = 1, name: str = "prefetch") -> Iterator[T]:
    """`items`, produced up to `ahead` items before the caller asks for them."""
    if ahead < 1:
        raise ValueError("ahead must be positive")
    slots: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=ahead)
    left = threading.Event()

    def hand_over(entry: tuple[Any, BaseException | None]) -> bool:
        while not left.is_set():
            try:
                slots.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not hand_over((item, None)):
                    return
            hand_over((_END, None))
        except BaseException as exc:  # raised in the caller's thread, where it belongs
            hand_over((_END, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        left.set()
        worker.join(timeout=1.0)  # a worker inside a request finishes it on its own, then stops
