"""The Leads pipe step production runs (`batches` then `FlattenLeadsPages`): dlt's naming, our child keys,
tombstones, epoch ms → timestamps, drift; and the column-wise path against the row-by-row one."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sources.common.arrow import ShapeError
from sources.common.naming import column_name
from sources.hubspot.leads import FlattenLeadsPages
from sources.hubspot.leads_batches import ARROW_ERRORS, batches
from sources.hubspot.leads_flatten import (
    EVENTS_TABLE,
    KEY_COLUMNS,
    LEADS_TABLE,
    VALUES_TABLE,
    flatten_leads,
    is_epoch_ms_column,
    leads_to_arrow,
    rows_to_arrow,
    rows_to_dicts,
)

TABLES = (LEADS_TABLE, EVENTS_TABLE, VALUES_TABLE)


def flatten_leads_page(
    leads: list[dict[str, Any]], *, hard_delete: bool = False, step: FlattenLeadsPages | None = None
) -> tuple[Any, Any, Any]:
    """What the resource yields for one page: `batches` then the pipe step; the three tables by name."""
    step = step or FlattenLeadsPages(hard_delete)
    by_table: dict[str, Any] = {}
    for batch in batches([leads], 10**6):
        for item in step(batch):
            assert item.meta.table_name not in by_table
            by_table[item.meta.table_name] = item.data
    return by_table[LEADS_TABLE], by_table[EVENTS_TABLE], by_table[VALUES_TABLE]


UTC = dt.UTC

# Shaped like the document's sample lead (hubspot-leads-api.txt), trimmed.
SAMPLE: dict[str, Any] = {
    "guid": "8a41f2f22906b93a012906b9438f0008",
    "analyticsDetails": {"countsModifiedAt": 1279853227000, "firstVisitAt": 1275710855000, "visitCount": 2},
    "closedAt": 1272997000000,
    "crmDetails": {"annualRevenue": 0, "nextActionDue": 0, "status": "Open"},
    "customerStatusModifiedAt": 0,
    "email": "info@hubspot.com",
    "firstURL": "http://demo.hubapi.com/",
    "insertedAt": 1275718091660,
    "isDeleted": False,
    "lastModifiedAt": 1320349394338,
    "score": 99.96,
    "leadConversionEvents": [
        {
            "convertDate": 1275718058000,
            "formName": "Contact Us",
            "guid": "15e857315cce44448c8abd9fb33aa651",
            "leadGuid": "8a41f2f22906b93a012906b9438f0008",
            "formSubmissionValues": [
                {"conversionGuid": "15e857315cce44448c8abd9fb33aa651", "fieldName": "FirstName", "id": 767892282},
                {"conversionGuid": "15e857315cce44448c8abd9fb33aa651", "fieldName": "LastName", "id": 767892292},
            ],
        }
    ],
    "leadCustomerStatusModifyLogs": [{"id": 4135752, "insertedAt": 1303305845158, "previousState": False}],
    "leadDeleteLogs": [],
}


def lead(guid: str, events: int = 1, **overrides: Any) -> dict[str, Any]:
    out = copy.deepcopy(SAMPLE)
    out["guid"] = guid
    out["leadConversionEvents"] = [
        {**copy.deepcopy(SAMPLE["leadConversionEvents"][0]), "guid": f"{guid}-e{i}"} for i in range(events)
    ]
    out.update(overrides)
    return out


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_lead_columns_are_named_as_dlt_would_and_nested_objects_flatten() -> None:
    leads, _, _ = flatten_leads_page([SAMPLE])
    (row,) = rows(leads)
    assert row["first_url"] == "http://demo.hubapi.com/"
    assert row["analytics_details__visit_count"] == 2
    assert row["crm_details__status"] == "Open"
    assert "lead_conversion_events" not in row  # a child table, not a column


def test_epoch_ms_become_utc_timestamps_and_zero_becomes_null() -> None:
    leads, events, _ = flatten_leads_page([SAMPLE])
    (row,) = rows(leads)
    assert row["last_modified_at"] == dt.datetime(2011, 11, 3, 19, 43, 14, 338000, tzinfo=UTC)
    assert row["analytics_details__counts_modified_at"].tzinfo is not None
    assert row["customer_status_modified_at"] is None
    assert row["crm_details__next_action_due"] is None
    assert row["crm_details__annual_revenue"] == 0  # zero stays zero where it is not a time
    assert rows(events)[0]["convert_date"] == dt.datetime(2010, 6, 5, 6, 7, 38, tzinfo=UTC)
    assert pa.types.is_timestamp(leads.schema.field("closed_at").type)
    assert leads.schema.field("closed_at").type.tz == "UTC"


def test_other_lists_are_kept_as_json_text() -> None:
    (row,) = rows(flatten_leads_page([SAMPLE])[0])
    assert json.loads(row["lead_customer_status_modify_logs"]) == SAMPLE["leadCustomerStatusModifyLogs"]
    assert row["lead_delete_logs"] == "[]"


def test_children_carry_the_lead_guid_their_own_keys_and_positions() -> None:
    _, events, values = flatten_leads_page([lead("L1", events=2)])
    assert [(e["lead_guid"], e["guid"], e["position"], e["_tombstone"]) for e in rows(events)] == [
        ("L1", "L1-e0", 0, False),
        ("L1", "L1-e1", 1, False),
    ]
    got = [(v["lead_guid"], v["conversion_guid"], v["event_position"], v["position"], v["id"]) for v in rows(values)]
    assert got == [
        ("L1", "L1-e0", 0, 0, 767892282),
        ("L1", "L1-e0", 0, 1, 767892292),
        ("L1", "L1-e1", 1, 0, 767892282),
        ("L1", "L1-e1", 1, 1, 767892292),
    ]


def test_a_lead_without_children_gets_one_tombstone_per_child_table() -> None:
    _, events, values = flatten_leads_page([lead("L0", events=0), lead("L1")])
    tombstones = [r for r in rows(events) if r["_tombstone"]]
    assert [(t["lead_guid"], t["position"]) for t in tombstones] == [("L0", -1)]
    assert [(t["lead_guid"], t["event_position"], t["position"]) for t in rows(values) if t["_tombstone"]] == [
        ("L0", -1, -1)
    ]


def test_an_event_without_form_values_still_replaces_the_leads_values() -> None:
    bare = lead("L2")
    bare["leadConversionEvents"][0]["formSubmissionValues"] = []
    _, events, values = flatten_leads_page([bare])
    assert [r["_tombstone"] for r in rows(events)] == [False]
    assert [(r["lead_guid"], r["_tombstone"]) for r in rows(values)] == [("L2", True)]


def test_hard_delete_turns_a_deleted_leads_children_into_tombstones_only() -> None:
    deleted = lead("D1", events=2, isDeleted=True)
    leads, events, values = flatten_leads_page([deleted], hard_delete=True)
    assert rows(leads)[0]["is_deleted"] is True
    assert [r["_tombstone"] for r in rows(events)] == [True]
    assert [r["_tombstone"] for r in rows(values)] == [True]
    # without hard_delete the soft-deleted lead keeps its children
    _, events, _ = flatten_leads_page([deleted])
    assert [r["_tombstone"] for r in rows(events)] == [False, False]


def test_fields_missing_on_some_leads_are_null_not_an_error() -> None:
    sparse = lead("L3")
    del sparse["email"]
    sparse["newVendorField"] = "x"
    (a, b) = rows(flatten_leads_page([lead("L1"), sparse])[0])
    assert b["email"] is None and a["new_vendor_field"] is None and b["new_vendor_field"] == "x"


def test_mixed_types_in_a_column_fall_back_to_dicts_for_dlts_normalizer() -> None:
    drifted = [lead("L1"), lead("L2", score="A+")]
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        rows_to_arrow(flatten_leads(drifted).leads)
    leads, events, _ = flatten_leads_page(drifted)
    assert isinstance(leads, list) and isinstance(events, pa.Table)  # only the drifted table falls back
    # the fallback rows: same names, timestamps converted in Python
    dicts = rows_to_dicts(flatten_leads(drifted).leads)
    assert leads == dicts
    assert [d["score"] for d in dicts] == [99.96, "A+"]
    assert dicts[0]["last_modified_at"] == dt.datetime(2011, 11, 3, 19, 43, 14, 338000, tzinfo=UTC)
    assert dicts[0]["customer_status_modified_at"] is None


def test_rows_to_arrow_keeps_booleans_out_of_timestamp_conversion() -> None:
    table = rows_to_arrow([{"closed_at": None, "x_at": True}])
    assert pa.types.is_timestamp(table.schema.field("closed_at").type)
    assert pa.types.is_boolean(table.schema.field("x_at").type)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("last_modified_at", True),
        ("analytics_details__first_visit_at", True),
        ("convert_date", True),
        ("crm_details__next_action_due", True),
        ("format", False),
        ("lead_guid", False),
    ],
)
def test_epoch_ms_columns_are_recognised_by_leaf_name(column: str, expected: bool) -> None:
    assert is_epoch_ms_column(column) is expected


def test_column_name_nests_with_double_underscore() -> None:
    assert column_name("leadGuid", "analytics_details") == "analytics_details__lead_guid"


# --- the column-wise path (production) against the row-by-row one (the reference and the fallback) ---------


def row_path(leads: list[dict[str, Any]], hard_delete: bool) -> list[pa.Table]:
    page = flatten_leads(leads, hard_delete=hard_delete)
    tables = zip(TABLES, (page.leads, page.events, page.values), strict=True)
    return [rows_to_arrow(rows, KEY_COLUMNS[table]) for table, rows in tables]


def canonical(table: pa.Table) -> tuple[dict[str, str], list[str]]:
    """Types of the columns holding a value, and the rows without their NULLs, sorted: what a warehouse
    gets (row order means nothing there; an all-NULL column of type null never reaches it)."""
    types = {f.name: str(f.type) for f in table.schema if table.column(f.name).null_count < table.num_rows}
    rows = sorted(repr(sorted((k, v) for k, v in row.items() if v is not None)) for row in table.to_pylist())
    return types, rows


def test_sample_leads_come_out_of_both_paths_the_same() -> None:
    leads = [lead("L1", events=2), lead("L0", events=0), lead("D1", events=1, isDeleted=True, score=7)]
    leads[0]["leadConversionEvents"][1]["formSubmissionValues"] = []
    for hard_delete in (False, True):
        fast = leads_to_arrow(copy.deepcopy(leads), hard_delete=hard_delete)
        reference = row_path(copy.deepcopy(leads), hard_delete)
        for got, want in zip((fast.leads, fast.events, fast.values), reference, strict=True):
            assert canonical(got) == canonical(want)
            assert [f for f in got.schema if not f.nullable] == [f for f in want.schema if not f.nullable]


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=3))
_numbers = st.one_of(st.integers(0, 10**13), st.floats(allow_nan=False, allow_infinity=False, width=32))
_audit = st.lists(st.dictionaries(st.sampled_from(["id", "at", "note"]), _scalars, max_size=3), max_size=2)
_value = st.fixed_dictionaries(
    {"id": st.integers(0, 10**9)},
    optional={"fieldName": st.text(max_size=3), "conversionGuid": st.text(max_size=2), "leadGuid": st.just("x")},
)
_event = st.fixed_dictionaries(
    {"guid": st.text(min_size=1, max_size=4)},
    optional={
        "convertDate": st.integers(0, 2**41),
        "formName": st.text(max_size=3),
        "leadGuid": st.just("theirs"),  # the event's own copy: ours wins and keeps its place
        "position": st.integers(0, 9),
        "formSubmissionValues": st.lists(_value, max_size=3),
        "detail": st.fixed_dictionaries({}, optional={"kind": st.text(max_size=2), "seenAt": st.integers(0, 10**12)}),
    },
)
_lead = st.fixed_dictionaries(
    {"lastModifiedAt": st.integers(1, 2**41)},
    optional={
        "isDeleted": st.booleans(),
        "score": _numbers,
        "email": st.one_of(st.none(), st.text(max_size=4)),
        "closedAt": st.integers(0, 2**41),
        "crmDetails": st.fixed_dictionaries(
            {}, optional={"status": st.text(max_size=3), "nextActionDue": st.integers(0, 2**41)}
        ),
        "leadDeleteLogs": _audit,
        "leadConversionEvents": st.one_of(st.none(), st.lists(_event, max_size=3)),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leads=st.lists(_lead, min_size=1, max_size=6), hard_delete=st.booleans())
def test_the_column_wise_path_loads_what_the_row_path_loads(leads: list[dict[str, Any]], hard_delete: bool) -> None:
    for number, record in enumerate(leads):
        record["guid"] = f"G{number}"
    try:
        fast = leads_to_arrow(copy.deepcopy(leads), hard_delete=hard_delete)
    except ARROW_ERRORS:
        assume(False)  # the pipe step then takes the row path itself (tested below)
    reference = row_path(copy.deepcopy(leads), hard_delete)
    for got, want in zip((fast.leads, fast.events, fast.values), reference, strict=True):
        assert canonical(got) == canonical(want)


def test_normal_batches_take_the_column_wise_path_and_get_unique_dlt_ids() -> None:
    step = FlattenLeadsPages(hard_delete=False, stamp_ids=True)
    tables = flatten_leads_page([lead(f"L{i}", events=i % 3) for i in range(20)], step=step)
    assert (step.arrow_batches, step.row_batches, step.drift_batches) == (3, 0, 0)
    for table in tables:
        ids = table.column("_dlt_id")
        assert ids.null_count == 0 and len(set(ids.to_pylist())) == table.num_rows
        assert not table.schema.field("_dlt_id").nullable


def test_what_the_column_wise_path_cannot_reproduce_goes_row_by_row_with_the_same_result() -> None:
    """`isDeleted` as text: Python judges "false" true; only the row path reproduces that."""
    leads = [lead("L1", isDeleted="false"), lead("L2", isDeleted="")]
    with pytest.raises(ShapeError):
        leads_to_arrow(copy.deepcopy(leads), hard_delete=True)
    step = FlattenLeadsPages(hard_delete=True)
    got = flatten_leads_page(copy.deepcopy(leads), step=step)
    assert (step.arrow_batches, step.row_batches) == (0, 3)
    for table, want in zip(got, row_path(leads, hard_delete=True), strict=True):
        assert canonical(table) == canonical(want)
    assert [r["lead_guid"] for r in got[1].to_pylist() if r["_tombstone"]] == ["L1"]
