"""KeysetOffsetPaginator against an in-memory Leads v1 list that changes between pages.

The list behaves like the vendor (and the sandbox): `startTime <= lastModifiedAt <= stopTime`, inclusive,
sorted ascending, offset/max paging. A hook mutates it between pages, as a nightly run racing edits would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sources.common.arrow_json import ArrowRecords
from sources.common.errors import PaginationError
from sources.common.keyset import KeysetOffsetPaginator
from sources.common.paginators import BasePaginator, OffsetPaginator, paginate
from sources.hubspot.leads import decode_page, leads_of

STOP = 10_000


class MovingList:
    """A fake ApiClient over `records` (guid → lastModifiedAt); `between_pages(n)` runs after page n."""

    vendor = "hubspot"

    def __init__(
        self,
        records: dict[str, int],
        between_pages: Callable[[MovingList, int], None] | None = None,
        *,
        over_the_wire: bool = False,
    ):
        self.records = dict(records)
        self.between_pages = between_pages
        self.calls: list[dict[str, Any]] = []
        self.over_the_wire = over_the_wire  # pages as JSON bytes through the caller's `decode`, as the client does
        self.arrow_pages: list[bool] = []  # over the wire: per non-empty page, whether it was decoded into arrow

    def request_decoded(
        self, method: str, path: str, *, endpoint: str, params: dict[str, Any], json: Any, **kwargs: Any
    ) -> tuple[None, Any]:
        rows = self._rows(params)
        if not self.over_the_wire:
            return None, rows
        payload = kwargs["decode"](orjson.dumps(rows))
        if rows:
            self.arrow_pages.append(isinstance(payload, ArrowRecords))
        return None, payload

    def _rows(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.calls and self.between_pages is not None:
            self.between_pages(self, len(self.calls))
        self.calls.append(dict(params))
        start, stop = int(params.get("startTime", 0)), int(params["stopTime"])
        rows = sorted(
            ({"guid": g, "lastModifiedAt": t} for g, t in self.records.items() if start <= t <= stop),
            key=lambda r: (r["lastModifiedAt"], r["guid"]),
        )
        offset, limit = int(params.get("offset", 0)), min(int(params["max"]), 100)
        return rows[offset : offset + limit]


def keyset(limit: int = 10) -> KeysetOffsetPaginator:
    return KeysetOffsetPaginator("lastModifiedAt", "startTime", "offset", "max", limit, key_field="guid")


def collect(client: MovingList, paginator: BasePaginator, start: int = 0) -> list[str]:
    pages = paginate(
        client,  # type: ignore[arg-type]
        "GET",
        "/leads/v1/list",
        endpoint="leads/list",
        params={"startTime": start, "stopTime": STOP},
        paginator=paginator,
        records=leads_of,
        decode=decode_page,
    )
    return [guid for page in pages for guid in _guids(page)]


def _guids(page: Any) -> list[str]:
    if isinstance(page, ArrowRecords):  # what loads is the array, not the paging view
        return page.array.field("guid").to_pylist()
    return [r["guid"] for r in page]


def spread(n: int, step: int = 10) -> dict[str, int]:
    return {f"g{i:04d}": (i + 1) * step for i in range(n)}


def modify(guid: str) -> Callable[[MovingList, int], None]:
    """After the first page, `guid` is edited: its lastModifiedAt jumps past the frozen stopTime."""

    def hook(client: MovingList, pages_done: int) -> None:
        if pages_done == 1:
            client.records[guid] = STOP + 1

    return hook


def test_plain_offsets_skip_a_record_when_one_behind_leaves() -> None:
    # The failure the keyset paginator exists for: g0003 (page 1) leaves, g0010 slides into offset 9.
    client = MovingList(spread(25), modify("g0003"))
    got = collect(client, OffsetPaginator(10, limit_param="max"))
    assert "g0010" not in got


def test_keyset_loses_nothing_when_a_record_behind_leaves() -> None:
    client = MovingList(spread(25), modify("g0003"))
    got = collect(client, keyset())
    assert got == [f"g{i:04d}" for i in range(25)]


def test_keyset_loses_nothing_when_the_anchor_record_itself_leaves() -> None:
    # g0009 is the last record of page 1, i.e. the anchor of page 2.
    client = MovingList(spread(25), modify("g0009"))
    got = collect(client, keyset())
    assert got == [f"g{i:04d}" for i in range(25)]


def test_ties_across_a_page_boundary_come_back_once() -> None:
    records = {**spread(8), **{f"t{i}": 500 for i in range(5)}, **{f"z{i}": 900 + i for i in range(9)}}
    got = collect(MovingList(records), keyset())
    assert sorted(got) == sorted(records)
    assert len(got) == len(set(got))


def test_a_tie_group_longer_than_a_page_is_walked_by_offset() -> None:
    records = {**spread(3), **{f"t{i:02d}": 500 for i in range(27)}, "last": 600}
    client = MovingList(records)
    got = collect(client, keyset())
    assert sorted(got) == sorted(records)
    assert len(got) == len(set(got))
    assert any(int(c["offset"]) > 0 for c in client.calls)


def test_requests_reanchor_start_time_and_stop_time_stays_frozen() -> None:
    client = MovingList(spread(25))
    collect(client, keyset())
    assert [(int(c["startTime"]), int(c["offset"])) for c in client.calls] == [(0, 0), (100, 0), (190, 0)]
    # Page 2 starts *at* g0009's time (inclusive) and re-reads it; `records()` drops the replay.
    assert {c["stopTime"] for c in client.calls} == {STOP}
    assert {c["max"] for c in client.calls} == {10}


def test_a_short_page_ends_paging() -> None:
    client = MovingList(spread(10))
    assert len(collect(client, keyset())) == 10
    assert len(client.calls) == 2  # the second page is empty


def test_unsorted_answers_fail_instead_of_looping() -> None:
    class Backwards(MovingList):
        def request_decoded(self, *args: Any, **kwargs: Any) -> tuple[None, Any]:
            return None, list(reversed(super().request_decoded(*args, **kwargs)[1]))

    with pytest.raises(PaginationError, match="not sorted ascending"):
        collect(Backwards(spread(25)), keyset())


def test_a_record_without_its_cursor_fails_with_a_pagination_error() -> None:
    class Broken(MovingList):
        def request_decoded(self, *args: Any, **kwargs: Any) -> tuple[None, Any]:
            rows = super().request_decoded(*args, **kwargs)[1]
            return None, [{"guid": r["guid"]} for r in rows]

    with pytest.raises(PaginationError, match="lastModifiedAt"):
        collect(Broken(spread(25)), keyset())


def test_a_tied_record_leaving_during_an_offset_walk_is_absorbed_by_the_overlap() -> None:
    records = {f"t{i:03d}": 500 for i in range(250)}

    def hook(client: MovingList, pages_done: int) -> None:
        if pages_done in (1, 2):  # one tied record already returned leaves after each of two pages
            client.records[f"t{pages_done:03d}"] = STOP + 1

    got = collect(MovingList(records, hook), keyset(100))
    assert len(got) == len(set(got))
    assert set(records) - {"t001", "t002"} <= set(got)


@settings(max_examples=200, deadline=None)
@given(
    times=st.lists(st.integers(min_value=1, max_value=40), min_size=0, max_size=60),
    edits=st.lists(st.tuples(st.integers(min_value=1, max_value=8), st.integers(min_value=0, max_value=59))),
    limit=st.integers(min_value=1, max_value=7),
)
def test_every_record_that_stays_in_the_window_is_returned_exactly_once(
    times: list[int], edits: list[tuple[int, int]], limit: int
) -> None:
    """Random ties, page sizes and edits (records leaving the window) between pages.

    No duplicates, ever. No loss as long as no `limit` records share one timestamp (a tie group longer
    than a page is walked by offset, whose tolerance the test above pins).
    """
    records = {f"g{i:03d}": t for i, t in enumerate(times)}
    edited = {f"g{i:03d}" for _, i in edits if i < len(times)}

    def hook(client: MovingList, pages_done: int) -> None:
        for after_page, i in edits:
            if after_page == pages_done and f"g{i:03d}" in client.records:
                client.records[f"g{i:03d}"] = STOP + 1

    got = collect(MovingList(records, hook), keyset(limit))
    assert len(got) == len(set(got)), "a record came back twice"
    if max(Counter(times).values(), default=0) < limit:
        assert set(records) - edited <= set(got), "a record that never changed was skipped"


@pytest.mark.parametrize("walk", ["boundary ties", "a tie group longer than a page", "a record behind leaves"])
def test_arrow_pages_page_exactly_as_decoded_lists(walk: str) -> None:
    """Pages decoded straight into arrow (`decode_page`, the production path) are dropped from and anchored
    on exactly as lists of dicts: same guids, same requests."""
    records = {
        "boundary ties": {**spread(8), **{f"t{i}": 500 for i in range(5)}, **{f"z{i}": 900 + i for i in range(9)}},
        "a tie group longer than a page": {**spread(3), **{f"t{i:02d}": 500 for i in range(27)}, "last": 600},
        "a record behind leaves": spread(25),
    }[walk]
    hook = modify("g0003") if walk == "a record behind leaves" else None
    lists, arrow = MovingList(records, hook), MovingList(records, hook, over_the_wire=True)
    want = collect(lists, keyset())
    assert collect(arrow, keyset()) == want
    assert arrow.arrow_pages and all(arrow.arrow_pages), "every page must take the arrow path"
    assert sorted(want) == sorted(records) and len(want) == len(set(want))
    assert arrow.calls == lists.calls
