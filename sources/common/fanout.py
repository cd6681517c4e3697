"""Ordered, bounded fan-out: N requests in flight, results in input order, little waiting in memory.

Extraction is bound by latency, not CPU (performance-notes.md), so independent requests (drilldowns,
per-page details, segments) go out side by side; the vendor's shared RateLimiter still caps the burst.
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_fanout(fn: Callable[[T], R], items: Iterable[T], *, workers: int, name: str = "fanout") -> Iterator[R]:
    """`fn(item)` for each item, `workers` at once, yielded in the order of `items`.

    At most `2 x workers` results wait unread, which bounds memory on long inputs. The first exception
    is raised in order (results before it are yielded first); queued calls are cancelled when it is
    raised or when the consumer stops early. Each call runs in a copy of the caller's context, so what
    the caller's context says (the source a request is counted for, sources/common/stats.py) holds there too.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        try:
            for item in items:
                pending.append(pool.submit(contextvars.copy_context().run, fn, item))
                if len(pending) > 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # an error (or a closed generator) must not leave queued requests running
            for future in pending:
                future.cancel()
