"""Flatten Leads v1 pages into three tables ourselves, skipping dlt's row-by-row normalizer.

Why: dlt's normalizer on these nested payloads ran at ~10% of DuckDB-native speed; flattening each page
in Python into arrow tables reached ~35%, and letting arrow build the nested batch in C++ and exploding it
with arrow compute costs about a third of that again (shared/performance-notes.md). Two paths make the
same tables: `nested_to_tables` (column-wise, the normal one) and `flatten_leads` + `rows_to_arrow` (row by
row: the reference the tests hold the other to, and the fallback for what it cannot reproduce).
Flattening ourselves means we own what the normalizer would have done, so this module reproduces its
naming and adds the keys:

- `hubspot_leads`: one row per lead. Nested objects (`analyticsDetails`, `crmDetails`) become
  `analytics_details__*` / `crm_details__*` columns, named by dlt's own snake_case convention.
- `hubspot_leads__lead_conversion_events`: one row per event; `lead_guid` (the lead's `guid`) and
  `position` (index in the lead's list) are ours, `guid` is the event's own.
- `hubspot_leads__lead_conversion_events__form_submission_values`: one row per form value; `lead_guid`,
  `conversion_guid` (the event's `guid`), `event_position`, `position` are ours, `id` is the vendor's.

Children are replaced per lead by a delete-insert merge on `lead_guid`. A lead that (now) has no rows in
a child table still gets one *tombstone* row there (`_tombstone = true`, positions -1): the merge deletes
the lead's old rows by `lead_guid` and the `hard_delete` hint on `_tombstone` keeps the tombstone itself
out of the warehouse. With `hard_delete`, a deleted lead contributes only tombstones, removing its
children.

Other lists (`leadDeleteLogs`, `leadCustomerStatusModifyLogs`, anything new) are kept as JSON text
columns: they are small audit trails with no key of their own, and a child table per list would cost a
table and a merge each for data nobody joins on.

Epoch-millisecond fields (hubspot-leads-api.txt: "timestamps are epoch milliseconds") become UTC
timestamps; 0 means "never" in the vendor's payloads and becomes NULL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.libs.pyarrow import get_column_type_from_py_arrow

from sources.common.arrow import ShapeError, explode, nested_array, struct_columns
from sources.common.epoch import epoch_ms_to_datetime
from sources.common.naming import column_name

LEADS_TABLE = "hubspot_leads"
EVENTS_TABLE = "hubspot_leads__lead_conversion_events"
VALUES_TABLE = "hubspot_leads__lead_conversion_events__form_submission_values"

EVENTS_FIELD = "leadConversionEvents"  # hubspot-leads-api.txt: the lead's array of conversion events
VALUES_FIELD = "formSubmissionValues"  # hubspot-leads-api.txt: the fields of each event's form
# Each table's primary key: the merge deduplicates on it, and arrow batches declare it NOT NULL to match.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    LEADS_TABLE: ("guid",),
    EVENTS_TABLE: ("lead_guid", "position"),
    VALUES_TABLE: ("lead_guid", "event_position", "position"),
}
TOMBSTONE = "_tombstone"
TOMBSTONE_POSITION = -1

# Epoch-ms fields whose names do not end in "At" (hubspot-leads-api.txt sample: convertDate; crmDetails'
# nextActionDue is 0 = unset in the sample). Every other `...At` field is epoch ms too.
EPOCH_MS_FIELDS = frozenset({"convert_date", "next_action_due"})


def is_epoch_ms_column(column: str) -> bool:
    """True for columns holding vendor epoch milliseconds, judged by the leaf name."""
    leaf = column.rsplit("__", 1)[-1]
    return leaf.endswith("_at") or leaf in EPOCH_MS_FIELDS


@dataclass(frozen=True)
class FlatPage:
    """One page as rows per table, before they become arrow tables (or dicts, on type drift)."""

    leads: list[dict[str, Any]]
    events: list[dict[str, Any]]
    values: list[dict[str, Any]]


def _flatten_into(row: dict[str, Any], record: Mapping[str, Any], prefix: str, skip: str | None) -> None:
    """Copy `record` into `row`: dicts become `prefix__key` columns, lists become JSON text."""
    for key, value in record.items():
        if key == skip:
            continue
        name = column_name(key, prefix)
        if isinstance(value, dict):
            _flatten_into(row, value, name, None)
        elif isinstance(value, list):
            row[name] = orjson.dumps(value).decode()
        else:
            row[name] = value


def _tombstone(lead_guid: str, table: str) -> dict[str, Any]:
    row: dict[str, Any] = {"lead_guid": lead_guid, "position": TOMBSTONE_POSITION, TOMBSTONE: True}
    if table == VALUES_TABLE:
        row["event_position"] = TOMBSTONE_POSITION
    return row


def flatten_leads(leads: Iterable[Mapping[str, Any]], *, hard_delete: bool = False) -> FlatPage:
    """Split raw leads into rows of the three tables (epoch ms still ints; see `to_arrow`/`to_dicts`)."""
    lead_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    value_rows: list[dict[str, Any]] = []
    for lead in leads:
        lead_guid = lead["guid"]
        row: dict[str, Any] = {}
        _flatten_into(row, lead, "", EVENTS_FIELD)
        lead_rows.append(row)
        events = lead.get(EVENTS_FIELD) or []
        if hard_delete and lead.get("isDeleted"):
            events = []  # only tombstones: the merge removes the deleted lead's children
        values_before = len(value_rows)
        for position, event in enumerate(events):
            event_row: dict[str, Any] = {}
            _flatten_into(event_row, event, "", VALUES_FIELD)
            # The event's own `leadGuid` (when sent) names the same lead; ours is authoritative.
            event_row.update(lead_guid=lead_guid, position=position, _tombstone=False)
            event_rows.append(event_row)
            conversion_guid = event.get("guid")
            for value_position, value in enumerate(event.get(VALUES_FIELD) or []):
                value_row: dict[str, Any] = {}
                _flatten_into(value_row, value, "", None)
                value_row.update(
                    lead_guid=lead_guid,
                    conversion_guid=conversion_guid,
                    event_position=position,
                    position=value_position,
                    _tombstone=False,
                )
                value_rows.append(value_row)
        if not events:
            event_rows.append(_tombstone(lead_guid, EVENTS_TABLE))
        if len(value_rows) == values_before:
            value_rows.append(_tombstone(lead_guid, VALUES_TABLE))
    return FlatPage(lead_rows, event_rows, value_rows)


# --- arrow ---------------------------------------------------------------------------------------

TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")  # dlt's default precision; DuckDB has no tz-aware ms type


def _epoch_ms_to_timestamp(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Epoch ms → UTC timestamp, 0 → NULL; vectorized."""
    micros = pc.multiply(column.cast(pa.int64()), 1000)
    return pc.if_else(pc.equal(micros, 0), pa.scalar(None, pa.int64()), micros).cast(TIMESTAMP_TYPE)


def rows_to_arrow(rows: list[dict[str, Any]], not_null: tuple[str, ...] = ()) -> pa.Table:
    """Rows → arrow table with epoch-ms columns as timestamps. Raises pa.ArrowException on mixed types.

    Columns are the union over all rows (a key missing from a row is NULL), so a field the vendor omits
    on some leads does not fail the page. Inference runs in C++ (`pa.array` over the dicts).
    """
    table = pa.Table.from_struct_array(pa.array(rows)) if rows else pa.table({})
    return finish_table(table, not_null)


def finish_table(table: pa.Table, not_null: tuple[str, ...] = ()) -> pa.Table:
    """Epoch-ms columns → UTC timestamps (0 → NULL), key columns NOT NULL: the last step of both paths."""
    for index, name in enumerate(table.column_names):
        column = table.column(index)
        if not is_epoch_ms_column(name):
            continue
        if pa.types.is_string(column.type):
            # Drift seen in the wild and in the sandbox: epoch ms sent as a numeric string.
            try:
                column = column.cast(pa.int64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        if pa.types.is_integer(column.type) or pa.types.is_null(column.type):
            table = table.set_column(index, name, _epoch_ms_to_timestamp(column))
    if not_null:  # key columns: agree with the schema's NOT NULL so dlt has no hint conflict to report
        fields = [f.with_nullable(False) if f.name in not_null else f for f in table.schema]
        table = table.cast(pa.schema(fields, metadata=table.schema.metadata))
    return table


# --- the vectorized path -------------------------------------------------------------------------

# The lists that become child tables; every other list is kept as JSON text (see the module docstring).
CHILD_LISTS = ((EVENTS_FIELD,), (EVENTS_FIELD, VALUES_FIELD))


def page_to_arrow(leads: Sequence[Any]) -> pa.StructArray:
    """One page of raw leads as a nested arrow array (one row per lead), lists other than the children
    already JSON text. Raises a `pa.ArrowException` or ShapeError when arrow cannot type the page."""
    return nested_array(leads, CHILD_LISTS)


@dataclass(frozen=True)
class LeadTables:
    """One batch as the three arrow tables, built column-wise (`nested_to_tables`)."""

    leads: pa.Table
    events: pa.Table
    values: pa.Table


def leads_to_arrow(leads: list[dict[str, Any]], *, hard_delete: bool = False) -> LeadTables:
    """`nested_to_tables(page_to_arrow(leads))`: the tables `flatten_leads` + `rows_to_arrow` make."""
    return nested_to_tables(page_to_arrow(leads), hard_delete=hard_delete)


def nested_to_tables(nested: pa.StructArray | pa.Table, *, hard_delete: bool = False) -> LeadTables:
    """The tables `flatten_leads` + `rows_to_arrow` make from the same leads, without a per-row loop.

    The children are the exploded lists, keyed with arrow `take`s. Rows come in another order than
    `flatten_leads` gives them (real children first, tombstones last); names, types and values are the
    same, except that arrow typed each page before the batch was joined (`concat_tables`), so a field
    seen only in a hard-deleted lead's events still gets its (all-NULL) column. Raises ShapeError or a
    `pa.ArrowException` where the row-by-row path must decide instead (a lead without its guid, an
    `isDeleted` that is not a boolean, children that are not objects, two fields flattening to one name).
    """
    if isinstance(nested, pa.Table):
        nested = pa.StructArray.from_arrays(
            [column.combine_chunks() for column in nested.columns], names=nested.column_names
        )
    if nested.null_count:
        raise ShapeError("a lead is null")
    guid = _scalar_field(nested, "guid", required=True)
    lead_columns = struct_columns(nested, column_name, skip=EVENTS_FIELD)
    deleted = _deleted(nested) if hard_delete else pa.repeat(pa.scalar(False), len(nested))
    leads_table = finish_table(pa.table(lead_columns), KEY_COLUMNS[LEADS_TABLE])

    events, event_lead, event_position = _children(nested, EVENTS_FIELD)
    if events is not None and hard_delete:  # a deleted lead contributes only tombstones, as in flatten_leads
        keep = pc.invert(pc.take(deleted, event_lead))
        events, event_lead, event_position = (events.filter(keep), event_lead.filter(keep), event_position.filter(keep))
    has_events = pc.is_in(pa.array(range(len(guid)), pa.int64()), value_set=pc.unique(event_lead))
    event_tombstones = _tombstones(pc.filter(guid, pc.invert(has_events)), EVENTS_TABLE)
    if events is None or len(events) == 0:
        return LeadTables(
            leads_table,
            finish_table(event_tombstones, KEY_COLUMNS[EVENTS_TABLE]),
            finish_table(_tombstones(guid, VALUES_TABLE), KEY_COLUMNS[VALUES_TABLE]),
        )

    lead_guid = pc.take(guid, event_lead)
    event_columns = struct_columns(events, column_name, skip=VALUES_FIELD)
    # As flatten_leads' dict.update: a name the event already has keeps its place, ours is authoritative.
    event_columns.update({"lead_guid": lead_guid, "position": event_position, TOMBSTONE: _false(len(events))})

    values, value_event, value_position = _children(events, VALUES_FIELD)
    if values is None:
        value_table = _tombstones(guid, VALUES_TABLE)
    else:
        value_columns = struct_columns(values, column_name)
        value_columns.update(
            {
                "lead_guid": pc.take(lead_guid, value_event),
                "conversion_guid": pc.take(_scalar_field(events, "guid", required=False), value_event),
                "event_position": pc.take(event_position, value_event),
                "position": value_position,
                TOMBSTONE: _false(len(values)),
            }
        )
        with_values = pc.unique(pc.take(event_lead, value_event))
        without = pc.invert(pc.is_in(pa.array(range(len(guid)), pa.int64()), value_set=with_values))
        value_table = _concat(pa.table(value_columns), _tombstones(pc.filter(guid, without), VALUES_TABLE))
    return LeadTables(
        leads_table,
        finish_table(_concat(pa.table(event_columns), event_tombstones), KEY_COLUMNS[EVENTS_TABLE]),
        finish_table(value_table, KEY_COLUMNS[VALUES_TABLE]),
    )


def _field(struct: pa.StructArray, name: str) -> pa.Array | None:
    """Field `name` with the struct's own NULLs applied, or None when no record has it."""
    index = struct.type.get_field_index(name)
    return None if index < 0 else struct.flatten()[index]


def _scalar_field(struct: pa.StructArray, name: str, *, required: bool) -> pa.Array:
    """A non-nested field (NULLs where absent); `required`: present and never NULL, like `lead["guid"]`."""
    column = _field(struct, name)
    if column is None:
        if required:
            raise ShapeError(f"no {name!r} field")
        return pa.nulls(len(struct))
    if pa.types.is_nested(column.type) or (required and column.null_count):
        raise ShapeError(f"{name!r} is not a value on every record")
    return column


def _deleted(leads: pa.StructArray) -> pa.Array:
    """`bool(lead.get("isDeleted"))` per lead, for a boolean (or absent) field."""
    column = _field(leads, "isDeleted")
    if column is None or pa.types.is_null(column.type):
        return pa.repeat(pa.scalar(False), len(leads))
    if not pa.types.is_boolean(column.type):
        raise ShapeError("isDeleted is not a boolean")  # flatten_leads judges "false" (text) as Python does
    return pc.fill_null(column, False)


def _children(struct: pa.StructArray, name: str) -> tuple[pa.StructArray | None, pa.Array, pa.Array]:
    """The objects of list field `name` (None when there are none), their parent rows and positions."""
    column = _field(struct, name)
    empty = pa.array([], pa.int64())
    if column is None or pa.types.is_null(column.type):
        return None, empty, empty
    if not pa.types.is_list(column.type):
        raise ShapeError(f"{name!r} is not a list")
    elements, parent, position = explode(column)
    if len(elements) == 0:
        return None, empty, empty
    if not isinstance(elements, pa.StructArray) or elements.null_count:
        raise ShapeError(f"{name!r} holds something other than objects")
    return elements, parent, position


def _false(length: int) -> pa.Array:
    return pa.repeat(pa.scalar(False), length)


def _tombstones(lead_guids: pa.Array, table: str) -> pa.Table:
    """`_tombstone` rows (see the module docstring) for these leads, columns as `_tombstone()` makes them."""
    minus_one = pa.repeat(pa.scalar(TOMBSTONE_POSITION, pa.int64()), len(lead_guids))
    columns = {"lead_guid": lead_guids, "position": minus_one, TOMBSTONE: pa.repeat(pa.scalar(True), len(lead_guids))}
    if table == VALUES_TABLE:
        columns["event_position"] = minus_one
    return pa.table(columns)


def _concat(rows: pa.Table, tombstones: pa.Table) -> pa.Table:
    if tombstones.num_rows == 0:
        return rows
    if rows.num_rows == 0:
        return tombstones
    return pa.concat_tables([rows, tombstones], promote_options="default")


# Arrow data we may load into a column of another dlt type without a lossy or failing cast.
_WIDENINGS = frozenset({("bigint", "double"), ("bigint", "decimal")})


def incompatible_columns(table: pa.Table, known_types: Mapping[str, str]) -> list[str]:
    """Columns whose arrow type does not fit the type the warehouse already has (`known_types`:
    column → dlt data_type). Arrow items skip dlt's coercion, so such a page must take the dict path."""
    bad = []
    for field in table.schema:
        known = known_types.get(field.name)
        if known is None or pa.types.is_null(field.type):
            continue
        got = get_column_type_from_py_arrow(field.type).get("data_type")
        if got != known and (got, known) not in _WIDENINGS:
            bad.append(field.name)
    return bad


def rows_to_dicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dict fallback for dlt's normalizer: same columns, epoch ms as aware datetimes, 0 → None."""
    out = []
    for row in rows:
        converted = dict(row)
        for name, raw in row.items():
            if not is_epoch_ms_column(name) or isinstance(raw, bool):
                continue
            value = int(raw) if isinstance(raw, str) and raw.isdigit() else raw
            if isinstance(value, int):
                converted[name] = None if value == 0 else epoch_ms_to_datetime(value)
        out.append(converted)
    return out
