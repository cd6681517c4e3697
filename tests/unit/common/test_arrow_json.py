"""Pages decoded straight into arrow (`decode_records`, through Leads' `decode_page`) against the path they
replace, `page_to_arrow(orjson.loads(body))`: the same array, or the page handed back as orjson's lists."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.common.arrow_json import ArrowRecords
from sources.common.errors import ResponseFormatError
from sources.hubspot.leads import decode_page, leads_of
from sources.hubspot.leads_batches import ARROW_ERRORS
from sources.hubspot.leads_flatten import page_to_arrow
from tests.unit.hubspot.test_leads_flatten import _lead, lead


def normalized(value: Any) -> Any:
    """Values with JSON text read back: the same JSON whatever the order of an object's keys."""
    if isinstance(value, str) and value.startswith("["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value  # text that only starts like JSON: the same on both sides
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def assert_same_as_orjson(page: list[dict[str, Any]]) -> bool:
    """decode_page's result is what the orjson path makes of the page; True when it came as arrow."""
    body = orjson.dumps(page)
    got = decode_page(body)
    try:
        want = page_to_arrow(orjson.loads(body))
    except ARROW_ERRORS:
        assert not isinstance(got, ArrowRecords), "arrow typed a page the orjson path cannot"
        return False
    if not isinstance(got, ArrowRecords):
        assert got == orjson.loads(body)
        return False
    assert got.array.type == want.type
    assert normalized(got.array.to_pylist()) == normalized(want.to_pylist())
    return True


def test_a_sample_page_comes_as_arrow_equal_to_the_orjson_path() -> None:
    page = [lead(f"L{i}", events=i % 3) for i in range(5)]
    page[1]["leadDeleteLogs"] = [{"id": 1, "deletedAt": 1700000000000, "leadGuid": "L1"}]
    assert assert_same_as_orjson(page)
    got = decode_page(orjson.dumps(page))
    assert isinstance(got, ArrowRecords)
    assert got.array.field("leadDeleteLogs").to_pylist()[1] == orjson.dumps(page[1]["leadDeleteLogs"]).decode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leads=st.lists(_lead, min_size=1, max_size=6))
def test_any_page_is_either_the_same_arrow_or_orjsons_lists(leads: list[dict[str, Any]]) -> None:
    for number, record in enumerate(leads):
        record["guid"] = f"G{number}"
    assert_same_as_orjson(leads)


@pytest.mark.parametrize(
    ("why", "page"),
    [
        ("text the reader would take for a timestamp", [{"guid": "a", "lastModifiedAt": 1, "note": "2026-01-02"}]),
        ("a float in a list kept as text", [{"guid": "a", "lastModifiedAt": 1, "logs": [{"x": 1}, {"x": 1.5}]}]),
        ("a key missing from one object of such a list", [{"guid": "a", "lastModifiedAt": 1, "logs": [{"x": 1}, {}]}]),
        ("a cursor sent as text", [{"guid": "a", "lastModifiedAt": "1700000000000"}]),
        ("text and a number in one field", [{"guid": "a", "lastModifiedAt": 1}, {"guid": "b", "lastModifiedAt": "2"}]),
        ("an empty page", []),
    ],
)
def test_pages_arrow_might_type_differently_come_as_orjsons_lists(why: str, page: list[dict[str, Any]]) -> None:
    got = decode_page(orjson.dumps(page))
    assert got == page, why


def test_a_cursor_sent_as_text_is_still_repaired_for_paging() -> None:
    got = leads_of(decode_page(b'[{"guid": "a", "lastModifiedAt": "1700000000000"}]'))
    assert [lead["lastModifiedAt"] for lead in got] == [1700000000000]


def test_a_body_that_is_not_a_list_is_still_refused() -> None:
    with pytest.raises(ResponseFormatError, match="not the documented list"):
        leads_of(decode_page(b'{"message": "hi"}'))


def test_a_body_that_is_not_json_raises_a_value_error_for_the_client_to_retry() -> None:
    with pytest.raises(ValueError):
        decode_page(b'[{"guid": "a", "lastMod')


def test_a_pretty_printed_page_is_read_too() -> None:
    page = [lead("L1"), lead("L2", events=2)]
    got = decode_page(orjson.dumps(page, option=orjson.OPT_INDENT_2))
    assert isinstance(got, ArrowRecords)
    assert got.array.equals(page_to_arrow(page))


def test_the_paging_view_shows_cursor_and_key_and_take_keeps_arrow() -> None:
    page = ArrowRecords(
        pa.array([{"guid": "a", "lastModifiedAt": 5, "x": 1}, {"guid": "b", "lastModifiedAt": 6}]),
        ("lastModifiedAt", "guid"),
    )
    assert list(page) == [{"lastModifiedAt": 5, "guid": "a"}, {"lastModifiedAt": 6, "guid": "b"}]
    assert page[1]["guid"] == "b" and len(page) == 2
    kept = page.take([1])
    assert isinstance(kept, ArrowRecords) and kept.array.to_pylist() == [{"guid": "b", "lastModifiedAt": 6, "x": None}]
