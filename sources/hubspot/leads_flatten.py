"""Flatten one Leads v1 page into three tables in Python, skipping dlt's row-by-row normalizer.

Why: dlt's normalizer on these nested payloads ran at ~10% of DuckDB-native speed; flattening each page
into arrow tables reached ~35% (shared/performance-notes.md). Flattening ourselves means we own what the
normalizer would have done, so this module reproduces its naming and adds the keys:

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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.libs.pyarrow import get_column_type_from_py_arrow

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
