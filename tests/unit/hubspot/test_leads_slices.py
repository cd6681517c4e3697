"""Time slices paged side by side yield exactly the sequential pass's pages, in its order, with bounded
lookahead; a slice's failure arrives after every page before it; leaving early stops the producers."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest

from sources.hubspot.leads_slices import slice_bounds, sliced_pages


@pytest.mark.parametrize(
    ("start", "stop", "min_slice", "max_slices", "count"),
    [(0, 99, 10, 16, 10), (0, 99, 10, 4, 4), (0, 5, 10, 16, 1), (7, 7, 10, 16, 1), (0, 1000, 3, 16, 16)],
)
def test_slices_cover_the_range_in_order_without_gap_or_overlap(
    start: int, stop: int, min_slice: int, max_slices: int, count: int
) -> None:
    slices = slice_bounds(start, stop, min_slice_ms=min_slice, max_slices=max_slices)
    assert len(slices) == count
    assert slices[0][0] == start and slices[-1][1] == stop
    for (_, high), (low, _) in pairwise(slices):
        assert low == high + 1  # inclusive bounds: a boundary millisecond belongs to exactly one slice
    assert all(low <= high for low, high in slices)


def test_an_empty_range_has_no_slice() -> None:
    assert slice_bounds(10, 9, min_slice_ms=1, max_slices=4) == []


class FakeSlices:
    """Each slice serves `pages` pages after a random short wait per page; records who was in flight."""

    def __init__(self, pages: int, fail_at: tuple[int, int] | None = None) -> None:
        self.pages = pages
        self.fail_at = fail_at
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.served: list[tuple[int, int]] = []
        self.rng = random.Random(7)

    def fetch(self, start: int, stop: int) -> Iterator[list[Any]]:
        for page in range(self.pages):
            with self.lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                wait = self.rng.uniform(0, 0.004)
            time.sleep(wait)
            with self.lock:
                self.in_flight -= 1
                self.served.append((start, page))
            if self.fail_at == (start, page):
                raise RuntimeError(f"slice {start} failed at page {page}")
            yield [(start, page)]


def test_pages_come_in_the_sequential_order_with_slices_in_flight_side_by_side() -> None:
    slices = [(i, i) for i in range(8)]
    fake = FakeSlices(pages=6)
    got = list(sliced_pages(fake.fetch, slices, workers=3, ahead=2))
    assert got == [[(i, page)] for i in range(8) for page in range(6)]
    assert 1 < fake.max_in_flight <= 3


def test_a_failing_slice_raises_after_every_earlier_page_and_nothing_later() -> None:
    slices = [(i, i) for i in range(6)]
    fake = FakeSlices(pages=5, fail_at=(3, 2))
    got: list[Any] = []
    with pytest.raises(RuntimeError, match="slice 3 failed at page 2"):
        for page in sliced_pages(fake.fetch, slices, workers=3, ahead=2):
            got.append(page)
    assert got == [[(i, page)] for i in range(3) for page in range(5)] + [[(3, 0)], [(3, 1)]]


def test_lookahead_is_bounded_and_leaving_early_stops_every_producer() -> None:
    slices = [(i, i) for i in range(4)]
    fake = FakeSlices(pages=50)
    before = threading.active_count()
    pages = sliced_pages(fake.fetch, slices, workers=4, ahead=2)
    assert next(pages) == [(0, 0)]
    time.sleep(0.2)  # the other slices fill their lookahead, then wait
    with fake.lock:
        ahead_of_consumer = len(fake.served)
    # slice 0: the page read, 2 queued and 1 blocked in put; the others: 2 queued and 1 blocked each
    assert ahead_of_consumer <= 4 * (2 + 2)
    pages.close()  # the consumer leaves: producers stop at their next page and the pool is joined
    assert threading.active_count() == before
    with fake.lock:
        assert len(fake.served) == ahead_of_consumer


def test_one_slice_is_the_plain_sequential_pass_without_threads() -> None:
    fake = FakeSlices(pages=3)
    before = threading.active_count()
    pages = sliced_pages(fake.fetch, [(0, 9)], workers=4, ahead=2)
    assert next(pages) == [(0, 0)]
    assert threading.active_count() == before
    assert list(pages) == [[(0, 1)], [(0, 2)]]
