"""Each paginator through the one `paginate()` loop, against scripted vendor-shaped pages."""

from __future__ import annotations

import httpx
import orjson
import pytest

from sources.common.errors import PaginationError
from sources.common.paginators import (
    BasePaginator,
    OffsetPaginator,
    RecordsProcessedPaginator,
    paginate,
)


def pages(client, method="GET", path="/p", **kwargs):
    return list(paginate(client, method, path, endpoint="ep", **kwargs))


def by_params(table):
    """Reply by the request's `offset`/`page` query value (or body offset): a deterministic fake vendor."""

    def reply(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            key = orjson.loads(request.content)["offset"]
        else:
            key = int(request.url.params.get("offset", request.url.params.get("page", 0)))
        return httpx.Response(200, json=table[key])

    return reply


# --- HubSpot `total` ---------------------------------------------------------------------------------


def breakdowns(payload):
    return payload["breakdowns"]


def test_offset_total_one_page(make_client):
    body = {"offset": 2, "total": 2, "totals": {}, "breakdowns": [{"breakdown": "a"}, {"breakdown": "b"}]}
    client, script = make_client(httpx.Response(200, json=body))
    got = pages(
        client,
        params={"start": "20260101"},
        paginator=OffsetPaginator(350, total_key="total", next_offset_key="offset"),
        records=breakdowns,
    )
    assert got == [[{"breakdown": "a"}, {"breakdown": "b"}]]
    assert len(script.requests) == 1
    assert dict(script.requests[0].url.params) == {"start": "20260101", "offset": "0", "limit": "350"}


def test_offset_total_many_pages_uses_response_offset(make_client):
    table = {
        0: {"offset": 2, "total": 5, "breakdowns": [1, 2]},
        2: {"offset": 4, "total": 5, "breakdowns": [3, 4]},
        4: {"offset": 5, "total": 5, "breakdowns": [5]},
    }
    client, script = make_client(by_params(table))
    got = pages(client, paginator=OffsetPaginator(2, total_key="total", next_offset_key="offset"), records=breakdowns)
    assert got == [[1, 2], [3, 4], [5]]
    assert [r.url.params["offset"] for r in script.requests] == ["0", "2", "4"]


def test_offset_total_without_response_offset_advances_by_records(make_client):
    table = {0: {"total": 3, "breakdowns": [1, 2]}, 2: {"total": 3, "breakdowns": [3]}}
    client, _ = make_client(by_params(table))
    assert pages(
        client, paginator=OffsetPaginator(total_key="total", next_offset_key="offset"), records=breakdowns
    ) == [[1, 2], [3]]


def test_offset_total_stops_on_empty_page(make_client):
    client, script = make_client(httpx.Response(200, json={"offset": 0, "total": 10, "breakdowns": []}))
    assert pages(
        client, paginator=OffsetPaginator(total_key="total", next_offset_key="offset"), records=breakdowns
    ) == [[]]
    assert len(script.requests) == 1


def test_offset_total_repeated_offset_is_a_pagination_error(make_client):
    client, script = make_client(httpx.Response(200, json={"offset": 0, "total": 10, "breakdowns": [1]}))
    with pytest.raises(PaginationError, match="would repeat a request") as caught:
        pages(client, paginator=OffsetPaginator(total_key="total", next_offset_key="offset"), records=breakdowns)
    assert len(script.requests) == 1
    assert caught.value.endpoint == "ep"


# --- AttributionHub ------------------------------------------------------------------------------------


def ah_records(payload):
    return payload.get("records", [])


def ah_page(records, processed, has_more, total=999):
    return {
        "records": records,
        "pagination": {"records_processed": processed, "total_records": total, "has_more": has_more},
    }


def test_records_processed_direct_mode_offsets_by_records_returned(make_client):
    table = {0: ah_page(list(range(50)), 200, True), 50: ah_page([50, 51], 200, False)}
    client, script = make_client(by_params(table))
    got = pages(
        client,
        "POST",
        "/api/v1/conversions",
        json={"start_date": "2025-07-01"},
        paginator=RecordsProcessedPaginator(session_filtered=False),
        records=ah_records,
    )
    assert [len(p) for p in got] == [50, 2]
    bodies = [orjson.loads(r.content) for r in script.requests]
    assert bodies == [{"start_date": "2025-07-01", "offset": 0}, {"start_date": "2025-07-01", "offset": 50}]


def test_records_processed_session_mode_follows_records_processed_through_empty_pages(make_client):
    table = {
        0: ah_page([1, 2], 200, True),
        200: ah_page([], 400, True),  # a batch of sessions with no conversions: keep going
        400: ah_page([3], 527, False),
    }
    client, script = make_client(by_params(table))
    got = pages(
        client,
        "POST",
        "/api/v1/conversions",
        json={"source": "google.com"},
        paginator=RecordsProcessedPaginator(session_filtered=True),
        records=ah_records,
    )
    assert got == [[1, 2], [], [3]]
    assert [orjson.loads(r.content)["offset"] for r in script.requests] == [0, 200, 400]


def test_records_processed_no_results_message_ends_paging(make_client):
    client, _ = make_client(httpx.Response(200, json={"message": "No conversions matched the given filters."}))
    got = pages(client, "POST", paginator=RecordsProcessedPaginator(session_filtered=True), records=ah_records)
    assert got == [[]]


def test_records_processed_session_mode_stuck_offset_is_a_pagination_error(make_client):
    client, _ = make_client(httpx.Response(200, json=ah_page([], 0, True)))
    with pytest.raises(PaginationError):
        pages(client, "POST", paginator=RecordsProcessedPaginator(session_filtered=True), records=ah_records)


def test_records_processed_missing_records_processed_is_a_pagination_error(make_client):
    client, _ = make_client(httpx.Response(200, json={"records": [1], "pagination": {"has_more": True}}))
    with pytest.raises(PaginationError, match="records_processed"):
        pages(client, "POST", paginator=RecordsProcessedPaginator(session_filtered=True), records=ah_records)


def test_records_processed_direct_mode_empty_page_with_has_more_is_a_pagination_error(make_client):
    client, script = make_client(httpx.Response(200, json=ah_page([], 0, True)))
    with pytest.raises(PaginationError):
        pages(client, "POST", paginator=RecordsProcessedPaginator(session_filtered=False), records=ah_records)
    assert len(script.requests) == 1


# --- Leads v1 ------------------------------------------------------------------------------------------


def test_offset_limit_ends_on_short_page(make_client):
    table = {0: [{"guid": i} for i in range(3)], 3: [{"guid": i} for i in range(3, 6)], 6: [{"guid": 6}]}
    client, script = make_client(by_params(table))
    got = pages(
        client, params={"sort": "lastModifiedAt"}, paginator=OffsetPaginator(3, limit_param="max"), records=list
    )
    assert [len(p) for p in got] == [3, 3, 1]
    assert [dict(r.url.params) for r in script.requests][1] == {
        "sort": "lastModifiedAt",
        "offset": "3",
        "max": "3",
    }


def test_offset_limit_exact_multiple_ends_on_empty_page(make_client):
    table = {0: [1, 2], 2: []}
    client, _ = make_client(by_params(table))
    assert pages(client, paginator=OffsetPaginator(2, limit_param="max"), records=list) == [[1, 2], []]


def test_offset_limit_one_short_page(make_client):
    client, script = make_client(httpx.Response(200, json=[]))
    assert pages(client, paginator=OffsetPaginator(100, limit_param="max"), records=list) == [[]]
    assert len(script.requests) == 1


# --- the loop ------------------------------------------------------------------------------------------


class HeaderCursorPaginator(BasePaginator):
    """Paging by a response header (a `Link`-style next cursor): what the response argument is for."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor: str | None = None

    def update_state(self, response, payload, records):
        self.cursor = response.headers.get("x-next-cursor")
        self._has_next_page = self.cursor is not None

    def update_request(self, req):
        req.params["cursor"] = self.cursor


def test_paginators_see_response_headers(make_client):
    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") == "c2":
            return httpx.Response(200, json=[3])
        return httpx.Response(200, json=[1, 2], headers={"x-next-cursor": "c2"})

    client, script = make_client(reply)
    assert pages(client, paginator=HeaderCursorPaginator(), records=list) == [[1, 2], [3]]
    assert [r.url.params.get("cursor") for r in script.requests] == [None, "c2"]


def test_offset_paginator_needs_a_page_size_or_a_total():
    with pytest.raises(ValueError, match="limit"):
        OffsetPaginator()
    with pytest.raises(ValueError, match="positive"):
        OffsetPaginator(0)


def test_paginate_does_not_mutate_caller_inputs(make_client):
    client, _ = make_client(httpx.Response(200, json=ah_page([1], 1, False)))
    params, body = {"a": 1}, {"filters": {"source": "x"}}
    pages(
        client,
        "POST",
        params=params,
        json=body,
        paginator=RecordsProcessedPaginator(False),
        records=ah_records,
    )
    assert params == {"a": 1} and body == {"filters": {"source": "x"}}
