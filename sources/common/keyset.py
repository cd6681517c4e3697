"""Keyset paging over an offset API: re-anchor the window on the last record's cursor after each page.

Why: plain offset paging over a list sorted by a mutable field (Leads v1 sorted by `lastModifiedAt`)
skips records. A frozen `stopTime` keeps records from *entering* the result set mid-run, but a record
modified mid-run *leaves* it (its `lastModifiedAt` jumps past `stopTime`); every later offset then
points one record too far and a record is silently skipped. Re-anchoring `startTime` on the last seen
cursor value makes offsets relative to the anchor, so a record leaving *behind* the anchor cannot shift
what lies ahead.

How: after a full page whose last cursor value is `v`, the next request is `start=v, offset=0`. The
vendor's `startTime` is inclusive (the sandbox and hubspot-leads-api.txt: "after this time" is served as
`>=`), so the records tied at `v` come back once more; `page_records()` drops the ones already returned, by
their key. Re-reading the tie group (usually one record) instead of skipping it with `offset=<ties>`
keeps the guarantee even when a record of the tie group itself leaves the set. Only when a whole page
shares one cursor value does the paginator fall back to offsets *within* that value; it then re-reads
`limit // 10` records per page, so up to that many tied records may leave between two pages (a bulk
edit stamping more than `limit` leads with one millisecond, then edited again mid-run, is the residue).

Paging ends on a page shorter than `limit`, so `limit` must not exceed what the vendor serves per page.
The replayed records are dropped by `page_records`, which `paginate()` always applies: a caller cannot
forget it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from itertools import pairwise
from typing import Any

import httpx

from .paginators import BasePaginator, PageRequest, PageStateError, select


def _peek(record: Any, field: str) -> Any:
    """`record[field]`, or None when the record is not a mapping or lacks it (checked in update_state)."""
    try:
        return record[field]
    except (KeyError, TypeError, IndexError):
        return None


class KeysetOffsetPaginator(BasePaginator):
    """Offset paging re-anchored on `cursor_field` (ascending sort required); drives `paginate()`."""

    def __init__(
        self,
        cursor_field: str,
        start_param: str,
        offset_param: str,
        limit_param: str,
        limit: int,
        *,
        key_field: str,
    ) -> None:
        super().__init__()
        if limit < 1:
            raise ValueError("limit must be positive")
        self.cursor_field = cursor_field
        self.start_param = start_param
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.limit = limit
        self.key_field = key_field
        # Re-read records when walking a tie group by offset (10%: one page in ten is re-read).
        self.tie_overlap = limit // 10
        self.anchor: Any = None
        self.offset = 0
        # Keys of records already returned whose cursor equals `anchor` (the tie group).
        self._seen_at_anchor: set[Hashable] = set()

    def init_request(self, req: PageRequest) -> None:
        if self.start_param not in req.params:
            raise ValueError(f"the first request needs its {self.start_param!r} parameter")
        self.anchor = req.params[self.start_param]
        self.offset = int(req.params.get(self.offset_param, 0))
        req.params[self.offset_param] = self.offset
        req.params[self.limit_param] = self.limit

    def page_records(self, raw: Sequence[Any]) -> Sequence[Any]:
        """The page's records minus those already returned at the anchor (the inclusive-start replay)."""
        if not self._seen_at_anchor:
            return raw
        keep = [
            index
            for index, r in enumerate(raw)
            if not (_peek(r, self.cursor_field) == self.anchor and _peek(r, self.key_field) in self._seen_at_anchor)
        ]
        return raw if len(keep) == len(raw) else select(raw, keep)

    def update_state(self, response: httpx.Response, payload: Any, raw: Sequence[Any]) -> None:
        if len(raw) < self.limit:
            self._has_next_page = False
            return
        cursors = [self._cursor(r) for r in raw]
        if cursors[0] < self.anchor or any(b < a for a, b in pairwise(cursors)):
            raise PageStateError(
                f"{self.cursor_field} went backwards within the page or behind {self.anchor!r}: "
                "the list is not sorted ascending"
            )
        last = cursors[-1]
        if last == self.anchor:
            # A whole page tied at the anchor: step through the tie group by offset, re-reading a few
            # records so that up to `tie_overlap` tied records leaving the set cannot skip one.
            self.offset += len(raw) - self.tie_overlap
            self._seen_at_anchor.update(self._key(r) for r in raw)
            return
        self.anchor = last
        self.offset = 0
        self._seen_at_anchor = {self._key(r) for r, c in zip(raw, cursors, strict=True) if c == last}

    def update_request(self, req: PageRequest) -> None:
        req.params[self.start_param] = self.anchor
        req.params[self.offset_param] = self.offset

    def _cursor(self, record: Any) -> Any:
        value = _peek(record, self.cursor_field)
        if value is None:
            raise PageStateError(f"a record lacks its {self.cursor_field!r}, so the next page cannot be anchored")
        return value

    def _key(self, record: Any) -> Hashable:
        value: Hashable = _peek(record, self.key_field)
        if value is None:
            raise PageStateError(f"a record lacks its {self.key_field!r}")
        return value
