"""Leads pages into batches of nested arrow tables (one row per lead, children still nested), in page order.

Why a step of its own: the batch is what dlt's incremental filters and `FlattenLeadsPages` explodes
(leads.py), and it amortizes dlt's per-item cost (~5 ms per arrow table); joining pages the way `pa.array`
would have typed them together is its own small problem.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from sources.common.arrow import ShapeError, concat_tables, release_arrow_memory
from sources.common.arrow_json import ArrowRecords

from .leads_flatten import page_to_arrow

logger = logging.getLogger(__name__)

ARROW_ERRORS = (ShapeError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def batches(pages: Iterable[Sequence[Any]], max_leads: int) -> Iterator[pa.Table | list[dict[str, Any]]]:
    """Pages as nested arrow tables (one row per lead) of about `max_leads` leads, in page order.

    Pages arrive as arrow (`decode_page`), or as orjson's dicts, made arrow at once, so only one page of
    decoded dicts is alive at a time (a batch of them cost more garbage collection than the decoding itself,
    ../shared/performance-notes.md). Pages are joined as `pa.array` would have
    typed them together (`concat_tables`); a page arrow cannot type (mixed types in a field) is passed on
    as its dicts, and where pages cannot be joined (text in one, numbers in another) they go on in runs
    that can.
    """
    pending: list[pa.StructArray] = []
    size = 0

    def flush() -> Iterator[pa.Table]:
        nonlocal pending, size
        arrays, pending, size = pending, [], 0
        if arrays:
            yield from _joined(arrays)
            release_arrow_memory()  # the batch has been through the pipe (into dlt's files) by now

    for page in pages:
        if not page:
            continue
        try:
            array = page.array if isinstance(page, ArrowRecords) else page_to_arrow(page)
        except ARROW_ERRORS as exc:
            logger.info("hubspot_leads: a page is flattened row by row (%s)", str(exc)[:160])
            yield from flush()
            yield list(page)
            continue
        pending.append(array)
        size += len(page)
        if size >= max_leads:
            yield from flush()
    yield from flush()


def _joined(arrays: list[pa.StructArray]) -> Iterator[pa.Table]:
    """One table of `arrays` when they join; else the longest runs of consecutive arrays that do."""
    if all(array.type == arrays[0].type for array in arrays):  # the usual case: one type, no promotion
        yield pa.Table.from_struct_array(pa.concat_arrays(arrays))
        return
    tables = [pa.Table.from_struct_array(array) for array in arrays]
    try:
        yield concat_tables(tables)
        return
    except ARROW_ERRORS:
        pass
    run = [tables[0]]
    for table in tables[1:]:
        try:
            concat_tables([*run, table])
        except ARROW_ERRORS:
            yield concat_tables(run)
            run = [table]
        else:
            run.append(table)
    yield concat_tables(run)
