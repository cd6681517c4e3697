"""The `hubspot_leads` resource: Leads v1 by `lastModifiedAt`, three tables merged per lead.

Shape of one run:
1. `stopTime` is frozen at the run's start (`clock.now()`), so records modified during the run cannot
   *enter* the window; `KeysetOffsetPaginator` re-anchors `startTime` after each page, so records
   modified during the run that *leave* the window cannot shift later pages (sources/common/keyset.py).
   A long range (a first load, a backfill) is cut into time slices paged side by side, whose pages still
   arrive in the one sequential order (leads_slices.py: `range_pages`).
2. Each page's body is decoded straight into a nested arrow array by pyarrow's JSON reader, in the slice's
   thread and off the GIL (`decode_page`); a page it would type differently is decoded by orjson and
   becomes arrow in `page_to_arrow`, as before. Pages are joined into batches of `LEADS_BATCH_SIZE` leads
   (leads_batches.py: `batches`): one row per lead, children still nested.
3. Batches go through `dlt.sources.incremental("lastModifiedAt")` (arrow: vectorized), which keeps the
   nightly cursor (the largest `lastModifiedAt` loaded; the next run starts there, inclusive, and the
   boundary leads are deduplicated by `guid`). Backfills set `end_value`, so dlt neither reads nor moves it.
4. `FlattenLeadsPages` (after the incremental in the pipe) explodes each surviving batch into three arrow
   tables (leads_flatten.py: `nested_to_tables`) loaded as parquet: merged per lead, or appended on a first
   load into a destination that appends exactly once (leads_first_load.py). What the column-wise path cannot
   reproduce exactly (a page whose values arrow cannot type, a shape it does not handle) is flattened row
   by row instead (`flatten_leads`), with the same result; a table whose values no longer fit one arrow
   type per column (vendor type drift) goes to dlt's normalizer as dicts, which makes variant columns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import dlt
import pendulum
import pyarrow as pa
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.items_transform import BaseItemTransform, ItemTransform
from dlt.sources import DltResource

from sources.common import clock
from sources.common.arrow import (
    dlt_id_hint,
    ensure_dlt_columns_on_arrow,
    stamp_dlt_ids,
)
from sources.common.arrow_json import ArrowRecords, decode_records
from sources.common.client import ApiClient, Decoder
from sources.common.cursors import Backfill, date_cursor
from sources.common.epoch import day_to_epoch_ms, instant_to_epoch_ms
from sources.common.errors import ResponseFormatError
from sources.common.keyset import KeysetOffsetPaginator
from sources.common.paginators import paginate
from sources.common.partial import keep_until_failure

from . import leads_slices, settings
from .leads_batches import ARROW_ERRORS, batches
from .leads_first_load import as_append, first_load_appends
from .leads_flatten import (
    CHILD_LISTS,
    EVENTS_TABLE,
    KEY_COLUMNS,
    LEADS_TABLE,
    TOMBSTONE,
    VALUES_TABLE,
    FlatPage,
    LeadTables,
    flatten_leads,
    incompatible_columns,
    nested_to_tables,
    rows_to_arrow,
    rows_to_dicts,
)
from .leads_slices import slice_bounds, sliced_pages

logger = logging.getLogger(__name__)

CURSOR_FIELD = "lastModifiedAt"  # the raw field: the incremental filters raw pages, before flattening
DAY_MS = 86_400_000
KEY_FIELD = "guid"  # hubspot-leads-api.txt: "Unique identifier for a lead"
ENDPOINT = "leads/list"
DELETE_INSERT: Any = {"disposition": "merge", "strategy": "delete-insert"}
# Leads columns the resource types itself (`_declare_tables`), under both spellings: typed before any lead.
DECLARED_COLUMNS = frozenset({CURSOR_FIELD, "last_modified_at", "is_deleted"})
TABLE_ATTRIBUTES = ((LEADS_TABLE, "leads"), (EVENTS_TABLE, "events"), (VALUES_TABLE, "values"))


def base_params(start_ms: int, stop_ms: int) -> dict[str, Any]:
    """Query of one run. hubspot-leads-api.txt / facts.md: sort explicitly (do not rely on the default),
    `includeDeleted=true` to see soft deletes, `startTime`/`stopTime` apply to `timePivot`."""
    return {
        "timePivot": settings.LEADS_TIME_PIVOT,
        "sort": settings.LEADS_TIME_PIVOT,
        "dir": "asc",
        "includeDeleted": "true",
        "startTime": start_ms,
        "stopTime": stop_ms,
    }


def decode_page(body: bytes) -> ArrowRecords | Any:
    """A page's body as arrow, decoded off the GIL (sources/common/arrow_json.py), its other lists already
    JSON text as `page_to_arrow` writes them; or, where arrow would not give what `page_to_arrow` gives (a
    cursor sent as text among them), the body decoded by orjson."""
    return decode_records(
        body, child_lists=CHILD_LISTS, view_fields=(CURSOR_FIELD, KEY_FIELD), integer_fields=(CURSOR_FIELD,)
    )


def leads_of(payload: Any) -> Sequence[Any]:
    """The page's leads (the body is a JSON array: hubspot-leads-api.txt), with an integer cursor.

    A `lastModifiedAt` sent as a numeric string (type drift) would break the keyset comparisons and the
    incremental's; it is read as the number it spells, in place so paging and loading agree (an arrow page
    has integer cursors: `decode_page`).
    """
    if isinstance(payload, ArrowRecords):
        return payload
    if not isinstance(payload, list):
        raise ResponseFormatError(
            f"hubspot answered {ENDPOINT} with a {type(payload).__name__}, not the documented list of leads.",
            vendor=settings.VENDOR,
            endpoint=ENDPOINT,
        )
    for lead in payload:
        value = lead.get(CURSOR_FIELD) if isinstance(lead, dict) else None
        if isinstance(value, str) and value.isdigit():
            lead[CURSOR_FIELD] = int(value)
    return payload


def fetch_pages(
    client: ApiClient, start_ms: int, stop_ms: int, decode: Decoder = decode_page
) -> Iterator[Sequence[Any]]:
    """Raw lead pages with `startTime <= lastModifiedAt <= stopTime`, ascending, none skipped or repeated:
    arrow pages (`decode_page`) or lists of leads (`decode=orjson.loads`, or a page arrow cannot type)."""
    paginator = KeysetOffsetPaginator(
        CURSOR_FIELD, "startTime", "offset", "max", settings.LEADS_PAGE_SIZE, key_field=KEY_FIELD
    )
    yield from paginate(
        client,
        "GET",
        settings.LEADS_PATH,
        endpoint=ENDPOINT,
        params=base_params(start_ms, stop_ms),
        paginator=paginator,
        records=leads_of,
        decode=decode,
    )


def range_pages(
    client: ApiClient, start_ms: int, stop_ms: int, decode: Decoder = decode_page
) -> Iterator[Sequence[Any]]:
    """`fetch_pages` of the whole range, in the same order, with a long range (a first load, a backfill) cut
    into time slices fetched side by side (leads_slices.py); a nightly's day or two is one slice."""
    min_slice_ms, max_slices = leads_slices.SLICE_DAYS * DAY_MS, leads_slices.MAX_SLICES
    slices = slice_bounds(start_ms, stop_ms, min_slice_ms=min_slice_ms, max_slices=max_slices)
    return sliced_pages(
        lambda start, stop: fetch_pages(client, start, stop, decode),
        slices,
        workers=leads_slices.WORKERS,
        ahead=leads_slices.PAGES_AHEAD,
        name="hubspot_leads slice",
    )


class FlattenLeadsPages(ItemTransform[Any]):
    """Pipe step: a batch of leads (nested arrow table, or raw dicts) → the three tables, each marked with
    its table name.

    It must run after the incremental (placement_affinity 1) and `add_limit` (1.1) so the cursor is
    computed on raw `lastModifiedAt` and filtered leads never produce children; hence 1.5.
    """

    placement_affinity: ClassVar[float] = 1.5

    def __init__(self, hard_delete: bool, *, stamp_ids: bool = False) -> None:
        BaseItemTransform.__init__(self)
        self.hard_delete = hard_delete
        self.stamp_ids = stamp_ids  # arrow tables get their `_dlt_id` here (sources/common/arrow.py)
        # Per table and batch: how it was built (tests and benchmarks read these).
        self.arrow_batches = 0  # column-wise (nested_to_tables), the normal path
        self.row_batches = 0  # row by row (flatten_leads), when the column-wise path cannot reproduce it
        self.drift_batches = 0  # ... and then as dicts for dlt's normalizer (vendor type drift)
        self.appends: bool | None = None  # this run's first load appends (leads_first_load.py); decided once

    def _mark(self, item: pa.Table | list[dict[str, Any]], table_name: str) -> Any:
        """`item` marked for `table_name`: appended on a first load that may (leads_first_load.py), else
        merged by the resource's hints."""
        if self.appends is None:
            self.appends = self.stamp_ids and first_load_appends(DECLARED_COLUMNS)
        if self.appends:
            return as_append(item, table_name, hard_delete=self.hard_delete)
        return dlt.mark.with_table_name(item, table_name)

    def __call__(self, item: Any, meta: Any = None) -> Iterator[Any]:
        if isinstance(item, pa.Table):
            return self._tables(item, None)
        return self._tables(None, item if isinstance(item, list) else [item])

    def _tables(self, nested: pa.Table | None, leads: list[dict[str, Any]] | None) -> Iterator[Any]:
        fast: LeadTables | None = None
        if nested is not None:
            if nested.num_rows == 0:
                return
            try:
                fast = nested_to_tables(nested, hard_delete=self.hard_delete)
            except ARROW_ERRORS as exc:
                logger.info("hubspot_leads: a batch is flattened row by row (%s)", str(exc)[:160])
        elif not leads:
            return
        page: FlatPage | None = None
        for table_name, attribute in TABLE_ATTRIBUTES:
            table = getattr(fast, attribute) if fast is not None else None
            if table is not None and not incompatible_columns(table, _known_types(table_name)):
                self.arrow_batches += 1
                yield self._mark(self._stamped(table), table_name)
                continue
            # The row-by-row path decides: arrow per table where its types allow, else dicts.
            self.row_batches += 1
            if page is None:
                rows = leads if leads is not None else nested.to_pylist()  # type: ignore[union-attr]
                page = flatten_leads(rows, hard_delete=self.hard_delete)
            items = self._as_items(table_name, getattr(page, attribute))
            yield self._mark(self._stamped(items) if isinstance(items, pa.Table) else items, table_name)

    def _stamped(self, table: pa.Table) -> pa.Table:
        return stamp_dlt_ids(table) if self.stamp_ids else table

    def _as_items(self, table_name: str, rows: list[dict[str, Any]]) -> pa.Table | list[dict[str, Any]]:
        """Arrow when the batch has one type per column that fits the known schema, else dicts.

        Vendor type drift (a number arriving as text) either mixes types within a batch (arrow refuses)
        or contradicts the column type already loaded (arrow items bypass dlt's coercion, so the load
        would fail). Either way dlt's normalizer gets the batch: it coerces or makes a variant column.
        """
        try:
            table = rows_to_arrow(rows, KEY_COLUMNS[table_name])
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            return self._fallback(table_name, rows, f"mixed value types ({str(exc)[:160]})")
        bad = incompatible_columns(table, _known_types(table_name))
        if bad:
            return self._fallback(table_name, rows, f"types changed in {', '.join(bad[:5])}")
        return table

    def _fallback(self, table_name: str, rows: list[dict[str, Any]], why: str) -> list[dict[str, Any]]:
        self.drift_batches += 1
        logger.warning("hubspot_leads: %s in a batch of %s; loading it through dlt's normalizer", why, table_name)
        return rows_to_dicts(rows)


def _known_types(table_name: str) -> dict[str, str]:
    """Column → dlt data_type of `table_name` in the schema being extracted (earlier runs and batches)."""
    try:
        table = dlt.current.source_schema().tables.get(table_name)
    except Exception:  # outside an extraction (e.g. iterating the resource directly): nothing known
        return {}
    if not table:
        return {}
    return {name: str(col["data_type"]) for name, col in table["columns"].items() if col.get("data_type")}


def _bool_hard_delete(column: str) -> dict[str, TColumnSchema]:
    return {column: {"name": column, "data_type": "bool", "hard_delete": True}}


def _declare_tables(resource: DltResource, *, hard_delete: bool, stamp_ids: bool) -> None:
    """Per-table hints for the three tables one resource emits.

    Child tables are table *variants* of the resource (dlt.mark.with_table_name dispatches to them).
    They are declared before the root hints because a variant starts as a copy of the resource's
    hints: declared later, the children would inherit the leads' columns (and `is_deleted`'s
    hard_delete). Children: delete-insert on `lead_guid` (merge_key) replaces a re-loaded lead's rows;
    the primary key deduplicates a lead seen twice in one load; `_tombstone` rows are never inserted.
    """
    dlt_ids = dlt_id_hint() if stamp_ids else {}  # the hints dlt gives the ids it stamps itself
    for child in (EVENTS_TABLE, VALUES_TABLE):
        resource.apply_hints(
            table_name=child,
            write_disposition=DELETE_INSERT,
            primary_key=list(KEY_COLUMNS[child]),
            merge_key="lead_guid",
            columns={**_bool_hard_delete(TOMBSTONE), **dlt_ids},
            create_table_variant=True,
        )
    lead_columns: dict[str, TColumnSchema] = {
        # Declared under the raw name: the incremental hints its cursor column by that name, and both
        # normalize to `last_modified_at` (two entries would collide with a warning on every run).
        CURSOR_FIELD: {"name": CURSOR_FIELD, "data_type": "timestamp", "dedup_sort": "desc"},
        "is_deleted": {"name": "is_deleted", "data_type": "bool"},
    }
    if hard_delete:
        lead_columns.update(_bool_hard_delete("is_deleted"))
    resource.apply_hints(
        write_disposition=DELETE_INSERT,
        primary_key=list(KEY_COLUMNS[LEADS_TABLE]),
        columns={**lead_columns, **dlt_ids},
    )


def leads_resource(
    client: ApiClient,
    *,
    start_date: pendulum.Date,
    hard_delete: bool,
    backfill: Backfill | None,
) -> DltResource:
    """The `hubspot_leads` resource. `backfill=(start, end)` (inclusive days) loads that `lastModifiedAt`
    range without touching the nightly cursor; otherwise the run continues from the cursor (first run:
    `start_date`). The cursor is epoch ms; its boundary leads are deduplicated by `guid`."""
    cursor = date_cursor(
        CURSOR_FIELD, start_date=start_date, backfill=backfill, encode=day_to_epoch_ms, primary_key=KEY_FIELD
    )

    def hubspot_leads(
        last_modified: dlt.sources.incremental[int] = cursor,
    ) -> Iterator[pa.Table | list[dict[str, Any]]]:
        stop_ms = instant_to_epoch_ms(clock.now())  # frozen for the whole run
        if last_modified.end_value is not None:
            # The API's stopTime is inclusive (hubspot-leads-api.txt); end_value is exclusive.
            stop_ms = min(stop_ms, last_modified.end_value - 1)
        start_ms = last_modified.last_value
        if start_ms is None or start_ms > stop_ms:
            return
        # Pages arrive in cursor order, also when time slices are fetched side by side (leads_slices.py), so
        # a terminal answer mid-run (a DAILY 429) keeps every page before it: the cursor then stands at the
        # last lead loaded and the next run continues from there.
        pages = keep_until_failure(
            range_pages(client, start_ms, stop_ms), source=settings.LEADS_SOURCE, what="the leads list"
        )
        yield from batches(pages, settings.LEADS_BATCH_SIZE)

    # Arrow and drift-fallback dict batches then carry the same dlt columns.
    stamp_ids = ensure_dlt_columns_on_arrow()
    resource = dlt.resource(hubspot_leads, name=LEADS_TABLE)
    _declare_tables(resource, hard_delete=hard_delete, stamp_ids=stamp_ids)
    resource.add_step(FlattenLeadsPages(hard_delete, stamp_ids=stamp_ids))
    return resource
