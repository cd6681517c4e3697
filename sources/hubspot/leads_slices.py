"""Leads time slices paged side by side: a long `lastModifiedAt` range (a first load, a backfill) is cut into
consecutive slices, each keyset-paged exactly as a whole range would be, and several slices are fetched at once.

Why: extraction is bound by latency, not CPU (performance-notes.md), and keyset paging is sequential by
nature (each request starts at the previous page's last lead). Disjoint slices have no such dependency.

Why it stays stop- and crash-safe: the pages are *yielded* slice after slice, each slice's pages in order,
so the consumer sees exactly the sequence one sequential pass over the whole range gives (ascending
`lastModifiedAt`; slices are disjoint, and ties at a boundary millisecond all belong to one slice because
both bounds are inclusive). A failure in any slice is raised where that slice's pages stop, after every page
before it: `keep_until_failure` then ends the run there and the incremental cursor stands on the last lead
yielded, never ahead of a page that was not. Pages fetched ahead by later slices are dropped with the run.
Each slice runs at most `ahead` pages ahead of the consumer, so memory stays bounded on any range.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any, Final, TypeVar

# A long range is cut into slices of at least SLICE_DAYS days, at most MAX_SLICES of them, WORKERS in flight
# (within HubSpot's RATE_LIMIT, which they share with analytics), each at most PAGES_AHEAD decoded pages ahead
# of the load. Pages are arrow (~220 KB for 100 leads; they were several MB as dicts), so the slices can run far
# ahead: with 4 ahead only the slice being read made progress, and the extracting thread waited 6.2 s for pages
# (100,000 leads); with 32 it waited 1.8 s. Memory stays bounded: at most WORKERS slices hold PAGES_AHEAD pages
# while they run (~28 MB), a finished slice at most PAGES_AHEAD; a 1,000,000-lead first load peaked at 483 MB
# with 4 and 487 MB with 32 (the peak is in the load step). A nightly (a day or two) is one slice, paged as ever.
SLICE_DAYS = 7
MAX_SLICES = 16
WORKERS = 4
PAGES_AHEAD = 32

Bounds = tuple[int, int]  # inclusive epoch-ms range of one slice
Page = TypeVar("Page")
_DONE: Final = object()  # a slice's last item: its pages are over
_PUT_WAIT_S = 0.05  # how often a blocked producer looks whether the consumer has gone


def slice_bounds(start_ms: int, stop_ms: int, *, min_slice_ms: int, max_slices: int) -> list[Bounds]:
    """Consecutive inclusive ranges covering `start_ms..stop_ms` in order: as many as fit at `min_slice_ms`
    each (at most `max_slices`, at least one), of about equal length."""
    if stop_ms < start_ms:
        return []
    span = stop_ms - start_ms + 1
    count = max(1, min(max_slices, span // max(1, min_slice_ms)))
    edges = [start_ms + span * i // count for i in range(count + 1)]
    return [(low, high - 1) for low, high in pairwise(edges)]


def sliced_pages(
    fetch: Callable[[int, int], Iterator[Page]],
    slices: list[Bounds],
    *,
    workers: int,
    ahead: int,
    name: str = "leads slice",
) -> Iterator[Page]:
    """`fetch(start, stop)` of every slice, chained in slice order, with up to `workers` slices in flight.

    One slice (or one worker) is the plain sequential pass, without a thread. Slices start in order, so the
    slice being read is always running or finished: no slice waits on one that cannot start. An exception
    of a slice is raised after that slice's earlier pages; leaving early (an exception, `close()`) stops
    every producer at its next page.
    """
    if workers < 1 or ahead < 1:
        raise ValueError("workers and ahead must be at least 1")
    if len(slices) <= 1 or workers == 1:
        for start, stop in slices:
            yield from fetch(start, stop)
        return
    queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=ahead) for _ in slices]
    gone = threading.Event()

    def put(q: queue.Queue[Any], item: Any) -> bool:
        while not gone.is_set():
            try:
                q.put(item, timeout=_PUT_WAIT_S)
                return True
            except queue.Full:
                continue
        return False

    def produce(index: int) -> None:
        q = queues[index]
        try:
            for page in fetch(*slices[index]):
                if not put(q, page):
                    return
        except BaseException as exc:  # handed to the consumer, raised there in order
            put(q, exc)
            return
        put(q, _DONE)

    with ThreadPoolExecutor(max_workers=min(workers, len(slices)), thread_name_prefix=name) as pool:
        try:
            for index in range(len(slices)):
                # Each slice in a copy of the caller's context (what request counting reads, stats.py).
                pool.submit(contextvars.copy_context().run, produce, index)
            for q in queues:
                while (item := q.get()) is not _DONE:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
        finally:
            gone.set()
            pool.shutdown(wait=True, cancel_futures=True)
