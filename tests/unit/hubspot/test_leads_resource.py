"""The resource's wiring, without HTTP: per-table merge hints, pipe order, batching, query, cursor setup."""

from __future__ import annotations

import inspect
from typing import Any

import dlt
import pendulum
import pyarrow as pa
import pytest
from dlt.extract.items import TableNameMeta

from sources.common.arrow import ensure_dlt_columns_on_arrow
from sources.common.epoch import day_to_epoch_ms
from sources.common.errors import ResponseFormatError
from sources.hubspot import leads, leads_batches
from sources.hubspot.leads_flatten import EVENTS_TABLE, LEADS_TABLE, TOMBSTONE, VALUES_TABLE


class NoClient:
    vendor = "hubspot"


def resource(hard_delete: bool = False, backfill: Any = None) -> Any:
    return leads.leads_resource(
        NoClient(),  # type: ignore[arg-type]
        start_date=pendulum.date(2026, 11, 1),
        hard_delete=hard_delete,
        backfill=backfill,
    )


def cursor_of(res: Any) -> Any:
    """The incremental the resource function declares (dlt binds it only when the pipe runs)."""
    return inspect.signature(res._pipe.gen).parameters["last_modified"].default


def columns_with(table: dict[str, Any], hint: str) -> set[str]:
    return {name for name, col in table["columns"].items() if col.get(hint)}


def test_leads_table_merges_on_guid_and_keeps_soft_deletes_by_default() -> None:
    table = resource().compute_table_schema(meta=TableNameMeta(LEADS_TABLE))
    assert table["write_disposition"] == "merge"
    assert table["x-merge-strategy"] == "delete-insert"  # type: ignore[typeddict-item]
    assert columns_with(table, "primary_key") == {"guid"}
    assert columns_with(table, "hard_delete") == set()
    assert columns_with(table, "dedup_sort") == {"lastModifiedAt"}  # normalized to last_modified_at on load


def test_hard_delete_marks_is_deleted() -> None:
    table = resource(hard_delete=True).compute_table_schema(meta=TableNameMeta(LEADS_TABLE))
    assert columns_with(table, "hard_delete") == {"is_deleted"}


@pytest.mark.parametrize(
    ("name", "primary_key"),
    [(EVENTS_TABLE, {"lead_guid", "position"}), (VALUES_TABLE, {"lead_guid", "event_position", "position"})],
)
def test_child_tables_replace_per_lead_and_never_inherit_the_leads_hints(name: str, primary_key: set[str]) -> None:
    table = resource(hard_delete=True).compute_table_schema(meta=TableNameMeta(name))
    assert table["name"] == name
    assert table["x-merge-strategy"] == "delete-insert"  # type: ignore[typeddict-item]
    assert columns_with(table, "merge_key") == {"lead_guid"}
    assert columns_with(table, "primary_key") == primary_key
    assert columns_with(table, "hard_delete") == {TOMBSTONE}  # not the leads' is_deleted
    assert "guid" not in table["columns"] and "last_modified_at" not in table["columns"]


def test_flattening_runs_after_the_incremental() -> None:
    steps = [type(step).__name__ for step in resource()._pipe.steps]
    assert steps.index("FlattenLeadsPages") > max(i for i, name in enumerate(steps) if "Incremental" in name), steps


def test_nightly_cursor_starts_at_start_date_and_backfill_bounds_the_range() -> None:
    nightly = cursor_of(resource())
    assert nightly.cursor_path == "lastModifiedAt"
    assert nightly.initial_value == day_to_epoch_ms(pendulum.date(2026, 11, 1))
    assert nightly.end_value is None
    backfill = cursor_of(resource(backfill=(pendulum.date(2026, 10, 1), pendulum.date(2026, 10, 3))))
    assert backfill.initial_value == day_to_epoch_ms(pendulum.date(2026, 10, 1))
    assert backfill.end_value == day_to_epoch_ms(pendulum.date(2026, 10, 4))  # exclusive: all of Oct 3


def test_query_follows_the_document() -> None:
    assert leads.base_params(1, 2) == {
        "timePivot": "lastModifiedAt",
        "sort": "lastModifiedAt",
        "dir": "asc",
        "includeDeleted": "true",
        "startTime": 1,
        "stopTime": 2,
    }


def test_batches_join_pages_into_arrow_tables_without_losing_or_reordering_leads() -> None:
    pages = [[{"guid": f"g{i * 10 + j}", "n": i * 10 + j} for j in range(10)] for i in range(7)]
    batches = list(leads_batches.batches(iter(pages), 25))
    assert all(isinstance(b, pa.Table) for b in batches)
    assert [b.num_rows for b in batches] == [30, 30, 10]
    assert [n for b in batches for n in b.column("n").to_pylist()] == list(range(70))


def test_batches_unify_types_across_pages_as_one_page_would() -> None:
    pages = [[{"guid": "a", "score": 1}], [{"guid": "b", "score": 2.5, "new": "x"}], [{"guid": "c", "score": None}]]
    (batch,) = leads_batches.batches(iter(pages), 100)
    assert batch.schema.field("score").type == pa.float64()
    assert batch.to_pylist() == [
        {"guid": "a", "score": 1.0, "new": None},
        {"guid": "b", "score": 2.5, "new": "x"},
        {"guid": "c", "score": None, "new": None},
    ]


def test_batches_pass_on_what_arrow_cannot_type_in_order() -> None:
    mixed = [{"guid": "b", "score": 1}, {"guid": "c", "score": "A+"}]  # arrow refuses the page
    pages = [[{"guid": "a", "score": 1}], mixed, [{"guid": "d", "score": "B"}], [{"guid": "e", "score": "C"}]]
    out = list(leads_batches.batches(iter(pages), 100))
    assert [b if isinstance(b, list) else b.to_pylist() for b in out] == [
        [{"guid": "a", "score": 1}],
        mixed,  # the mixed page goes on as dicts, in its place
        [{"guid": "d", "score": "B"}, {"guid": "e", "score": "C"}],
    ]


def test_pages_that_cannot_join_go_on_in_the_runs_that_can() -> None:
    pages = [[{"guid": "a", "score": 1}], [{"guid": "b", "score": 2.5}], [{"guid": "c", "score": "B"}]]
    out = list(leads_batches.batches(iter(pages), 100))
    assert [b.to_pylist() for b in out] == [
        [{"guid": "a", "score": 1.0}, {"guid": "b", "score": 2.5}],  # numbers join (as floats)
        [{"guid": "c", "score": "B"}],  # text does not join numbers: its own batch, no failure
    ]


def test_leads_of_reads_a_numeric_string_cursor_as_a_number() -> None:
    page = [{"guid": "a", "lastModifiedAt": "1700000000000"}, {"guid": "b", "lastModifiedAt": 5}]
    assert [lead["lastModifiedAt"] for lead in leads.leads_of(page)] == [1700000000000, 5]


def test_leads_of_refuses_a_body_that_is_not_a_list() -> None:
    with pytest.raises(ResponseFormatError, match="not the documented list"):
        leads.leads_of({"message": "hi"})


def test_the_source_stamps_dlt_ids_itself_unless_they_are_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt's normalizer would rewrite every parquet file to add `_dlt_id`; the source stamps it instead, with
    the hints dlt gives its own ids, and turns dlt's stamping off (one `_dlt_id` column, not two)."""
    env = "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID"
    monkeypatch.setenv(env, "true")
    assert ensure_dlt_columns_on_arrow() is True
    assert dlt.config.get("normalize.parquet_normalizer.add_dlt_id", bool) is False
    assert ensure_dlt_columns_on_arrow() is True  # a second source in the same process still stamps
    table = resource().compute_table_schema(meta=TableNameMeta(VALUES_TABLE))
    assert table["columns"]["_dlt_id"]["row_key"] and not table["columns"]["_dlt_id"]["nullable"]

    monkeypatch.setenv(env, "false")  # the user's choice: arrow rows without `_dlt_id`
    assert ensure_dlt_columns_on_arrow() is False
    assert "_dlt_id" not in resource().compute_table_schema(meta=TableNameMeta(VALUES_TABLE))["columns"]
