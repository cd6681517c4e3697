"""dlt-style paginators and the one `paginate()` loop every vendor uses.

Vocabulary mirrors `dlt.sources.helpers.rest_client.paginators`: `init_request`, `update_state`,
`update_request`, `has_next_page`. A paginator sees the decoded payload and the page's records, and
edits a `PageRequest` (query params and JSON body) for the next page.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .errors import PaginationError, truncate

if TYPE_CHECKING:
    from .client import ApiClient


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

    @abstractmethod
    def update_state(self, payload: Any, records: list[Any]) -> None:
        """Read the page just received and decide whether another follows."""

    @abstractmethod
    def update_request(self, req: PageRequest) -> None:
        """Edit `req` to ask for the next page."""

    def __repr__(self) -> str:
        state = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return f"{type(self).__name__}({state}, has_next_page={self._has_next_page})"


class SinglePagePaginator(BasePaginator):
    """For endpoints that answer in one page."""

    def update_state(self, payload: Any, records: list[Any]) -> None:
        self._has_next_page = False

    def update_request(self, req: PageRequest) -> None:
        return


class OffsetTotalPaginator(BasePaginator):
    """HubSpot analytics `total`/`summarize` responses: `{offset, total, totals, breakdowns}`.

    The response `offset` is the next index to request (sequential, exclusive; hubspot-analytics-api.txt);
    paging ends when it reaches `total` or a page comes back empty.
    """

    def __init__(self, limit: int | None = None, *, offset_param: str = "offset", limit_param: str = "limit") -> None:
        super().__init__()
        self.limit = limit
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.offset = 0

    def init_request(self, req: PageRequest) -> None:
        self.offset = int(req.params.get(self.offset_param, 0))
        req.params[self.offset_param] = self.offset
        if self.limit is not None:
            req.params[self.limit_param] = self.limit

    def update_state(self, payload: Any, records: list[Any]) -> None:
        body = payload if isinstance(payload, Mapping) else {}
        next_offset = body.get("offset")
        if not isinstance(next_offset, int) or isinstance(next_offset, bool):
            next_offset = self.offset + len(records)
        total = body.get("total")
        self.offset = next_offset
        if not records or (isinstance(total, int) and next_offset >= total):
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

    def update_state(self, payload: Any, records: list[Any]) -> None:
        pagination = payload.get("pagination") if isinstance(payload, Mapping) else None
        if not isinstance(pagination, Mapping) or not pagination.get("has_more"):
            self._has_next_page = False
            return
        if self.session_filtered:
            processed = pagination.get("records_processed")
            if not isinstance(processed, int) or isinstance(processed, bool):
                raise PageStateError(f"has_more is true but records_processed is {processed!r}")
            self.offset = processed
        else:
            self.offset += len(records)

    def update_request(self, req: PageRequest) -> None:
        req.json = {**(req.json or {}), self.offset_key: self.offset}


class OffsetLimitPaginator(BasePaginator):
    """Leads v1 `max`/`offset` (hubspot-leads-api.txt): the list ends on a page shorter than `limit`."""

    def __init__(self, limit: int, offset_param: str = "offset", limit_param: str = "max") -> None:
        super().__init__()
        if limit < 1:
            raise ValueError("limit must be positive")
        self.limit = limit
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.offset = 0

    def init_request(self, req: PageRequest) -> None:
        self.offset = int(req.params.get(self.offset_param, 0))
        req.params[self.offset_param] = self.offset
        req.params[self.limit_param] = self.limit

    def update_state(self, payload: Any, records: list[Any]) -> None:
        self.offset += len(records)
        if len(records) < self.limit:
            self._has_next_page = False

    def update_request(self, req: PageRequest) -> None:
        req.params[self.offset_param] = self.offset


class PageNumberPaginator(BasePaginator):
    """`page=1,2,...`; ends on an empty page, or a page shorter than `page_size` when that is known."""

    def __init__(self, page_param: str = "page", *, start_page: int = 1, page_size: int | None = None) -> None:
        super().__init__()
        self.page_param = page_param
        self.page = start_page
        self.page_size = page_size

    def init_request(self, req: PageRequest) -> None:
        self.page = int(req.params.get(self.page_param, self.page))
        req.params[self.page_param] = self.page

    def update_state(self, payload: Any, records: list[Any]) -> None:
        if not records or (self.page_size is not None and len(records) < self.page_size):
            self._has_next_page = False
        else:
            self.page += 1

    def update_request(self, req: PageRequest) -> None:
        req.params[self.page_param] = self.page


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
    records: Callable[[Any], list[Any]],
) -> Iterator[list[Any]]:
    """Yield each page's records (a list per page) until the paginator says stop.

    Fails with PaginationError when the next request would repeat one already sent: a vendor that
    keeps returning the same token/offset would otherwise loop for ever (the singer-sdk guard).
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
        payload = client.request_json(method, path, endpoint=endpoint, params=req.params, json=req.json)
        page = records(payload)
        failure = None
        try:
            paginator.update_state(payload, page)
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
