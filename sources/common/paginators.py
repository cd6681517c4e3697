"""dlt-style paginators and the one `paginate()` loop every vendor uses.

Vocabulary mirrors `dlt.sources.helpers.rest_client.paginators`: `init_request`, `update_state`,
`update_request`, `has_next_page`. A paginator sees the response (headers, for header-based paging), the
payload decoded once, and the page's records; it edits a `PageRequest` (query params and JSON body) for
the next page, and may drop records its own paging replays (`page_records`).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx
import orjson

from .errors import PaginationError, truncate

if TYPE_CHECKING:
    from .client import ApiClient, Decoder


@runtime_checkable
class ColumnarRecords(Protocol):
    """A page decoded into columns (sources/common/arrow_json.py): a sequence of its records for paging,
    and `take` to keep some of them without turning the rest into Python objects."""

    def __len__(self) -> int: ...

    def take(self, indices: list[int]) -> Sequence[Any]: ...


def select(records: Sequence[Any], indices: list[int]) -> Sequence[Any]:
    """The records at `indices`, in the page's own form (a list, or columnar records)."""
    if isinstance(records, ColumnarRecords):
        return records.take(indices)
    return [records[i] for i in indices]


@dataclass
class PageRequest:
    """What varies between pages of one query: the query params and the JSON body."""

    params: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] | None = None


class PageStateError(ValueError):
    """A payload lacks what the paginator needs to continue; `paginate()` turns it into PaginationError."""


class BasePaginator(ABC):
    """One query's paging state. Subclasses set `_has_next_page` in `update_state`."""

    def __init__(self) -> None:
        self._has_next_page = True

    @property
    def has_next_page(self) -> bool:
        return self._has_next_page

    def init_request(self, req: PageRequest) -> None:  # noqa: B027 - optional override
        """Put the first page's paging parameters into `req`."""

    def page_records(self, records: Sequence[Any]) -> Sequence[Any]:
        """The records of the page just received that the caller gets (all, unless paging replays some)."""
        return records

    @abstractmethod
    def update_state(self, response: httpx.Response, payload: Any, records: Sequence[Any]) -> None:
        """Read the page just received (headers, decoded body, its raw records) and decide if another follows."""

    @abstractmethod
    def update_request(self, req: PageRequest) -> None:
        """Edit `req` to ask for the next page."""

    def __repr__(self) -> str:
        state = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return f"{type(self).__name__}({state}, has_next_page={self._has_next_page})"


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class OffsetPaginator(BasePaginator):
    """Offset paging in the query string, for every vendor that pages by `offset`.

    - `next_offset_key`: the body says the next offset (HubSpot analytics `total`: `offset` is the next
      index to request, hubspot-analytics-api.txt); otherwise the next offset is offset + records.
    - `total_key`: the body says how many there are; paging ends when the next offset reaches it.
      Without it, a page shorter than `limit` is the last (Leads v1 `max`/`offset`).
    An empty page always ends paging.
    """

    def __init__(
        self,
        limit: int | None = None,
        *,
        offset_param: str = "offset",
        limit_param: str = "limit",
        total_key: str | None = None,
        next_offset_key: str | None = None,
    ) -> None:
        super().__init__()
        if limit is not None and limit < 1:
            raise ValueError("limit must be positive")
        if limit is None and total_key is None:
            raise ValueError("without a total in the body, the page size `limit` is what ends paging")
        self.limit = limit
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.total_key = total_key
        self.next_offset_key = next_offset_key
        self.offset = 0

    def init_request(self, req: PageRequest) -> None:
        self.offset = int(req.params.get(self.offset_param, 0))
        req.params[self.offset_param] = self.offset
        if self.limit is not None:
            req.params[self.limit_param] = self.limit

    def update_state(self, response: httpx.Response, payload: Any, records: Sequence[Any]) -> None:
        body = payload if isinstance(payload, Mapping) else {}
        given = _int_or_none(body.get(self.next_offset_key)) if self.next_offset_key else None
        self.offset = given if given is not None else self.offset + len(records)
        if not records:
            self._has_next_page = False
        elif self.total_key is not None:
            total = _int_or_none(body.get(self.total_key))
            if total is not None and self.offset >= total:
                self._has_next_page = False
        elif self.limit is not None and len(records) < self.limit:
            self._has_next_page = False

    def update_request(self, req: PageRequest) -> None:
        req.params[self.offset_param] = self.offset


class RecordsProcessedPaginator(BasePaginator):
    """AttributionHub batch paging: `offset` in the JSON body, `pagination{records_processed, has_more}` back.

    attributionhub-conversions-api.txt: without session filters `offset` counts conversion records (next
    offset = offset + records returned); with session filters it counts sessions, and the next offset is
    `records_processed`. A session-filtered page may hold 0 records while `has_more` is true, so only
    `has_more: false` (or no `pagination` object, e.g. the "No conversions matched" answer) ends paging.
    """

    def __init__(self, session_filtered: bool, *, offset_key: str = "offset") -> None:
        super().__init__()
        self.session_filtered = session_filtered
        self.offset_key = offset_key
        self.offset = 0

    def init_request(self, req: PageRequest) -> None:
        body = dict(req.json or {})
        self.offset = int(body.get(self.offset_key, 0))
        body[self.offset_key] = self.offset
        req.json = body

    def update_state(self, response: httpx.Response, payload: Any, records: Sequence[Any]) -> None:
        pagination = payload.get("pagination") if isinstance(payload, Mapping) else None
        if not isinstance(pagination, Mapping) or not pagination.get("has_more"):
            self._has_next_page = False
            return
        if self.session_filtered:
            raw = pagination.get("records_processed")
            processed = _int_or_none(raw)
            if processed is None:
                raise PageStateError(f"has_more is true but records_processed is {raw!r}")
            self.offset = processed
        else:
            self.offset += len(records)

    def update_request(self, req: PageRequest) -> None:
        req.json = {**(req.json or {}), self.offset_key: self.offset}


def _fingerprint(req: PageRequest) -> bytes:
    return orjson.dumps(
        {"params": req.params, "json": req.json},
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
        default=str,
    )


def paginate(
    client: ApiClient,
    method: str,
    path: str,
    *,
    endpoint: str,
    params: Mapping[str, Any] | None = None,
    json: Mapping[str, Any] | None = None,
    paginator: BasePaginator,
    records: Callable[[Any], Sequence[Any]],
    decode: Decoder = orjson.loads,
) -> Iterator[Sequence[Any]]:
    """Yield each page's records (a list per page, or `ColumnarRecords`) until the paginator says stop.

    `records(payload)` picks the page's records out of the decoded body; the paginator then sees them all
    and the caller gets `paginator.page_records(...)` of them. Fails with PaginationError when the next
    request would repeat one already sent: a vendor that keeps returning the same token/offset would
    otherwise loop for ever (the singer-sdk guard). `decode` turns each body into its payload (the client's
    `request_decoded`): a page may then be columnar (`ColumnarRecords`) instead of a list.
    """
    req = PageRequest(params=dict(params or {}), json=copy.deepcopy(dict(json)) if json is not None else None)
    paginator.init_request(req)
    sent: set[bytes] = set()
    while True:
        key = _fingerprint(req)
        if key in sent:
            raise PaginationError(
                f"{client.vendor} paging on {endpoint} would repeat a request already sent "
                f"({_describe(req)}): stopping instead of looping; report it to the vendor.",
                vendor=client.vendor,
                endpoint=endpoint,
            )
        sent.add(key)
        response, payload = client.request_decoded(
            method, path, endpoint=endpoint, params=req.params, json=req.json, decode=decode
        )
        raw = records(payload)
        page = paginator.page_records(raw)  # before update_state: it filters against the previous page
        failure = None
        try:
            paginator.update_state(response, payload, raw)
        except PageStateError as exc:
            failure = str(exc)
        if failure is not None:
            raise PaginationError(
                f"{client.vendor} paging on {endpoint} cannot continue ({failure}): "
                "the response lacks its paging state; report it with the request.",
                vendor=client.vendor,
                endpoint=endpoint,
            )
        yield page
        if not paginator.has_next_page:
            return
        paginator.update_request(req)


def _describe(req: PageRequest) -> str:
    parts = [f"params {req.params}"] if req.params else []
    if req.json is not None:
        parts.append(f"body {req.json}")
    return truncate(", ".join(parts) or "no parameters", 160)
