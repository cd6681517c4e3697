"""HubSpot Leads API v1 simulator: ``GET /leads/v1/list`` (hubspot-leads-api.txt, facts.md).

Decisions where the document is vague, relied on by the loader — change them only together with it:

- Time window: ``startTime <= pivot <= stopTime``, BOTH inclusive, in epoch ms on ``timePivot`` (default
  ``insertedAt``; one of insertedAt, firstConvertedAt, lastConvertedAt, lastModifiedAt, closedAt, else 400).
  ``startTime`` defaults to 0, ``stopTime`` to simulated now (``today`` 00:00 UTC, or the moving clock's
  millisecond: ``SandboxConfig.clock_start_s``/``clock_step_ms``). A lead that never converted/closed has 0
  for that pivot, so it matches only windows that include 0.
- ``max`` defaults to 10 and is served as at most 100 (the document: "The maximum is 100"); ``offset`` counts
  leads after filtering and sorting. ``sort`` ∈ insertedAt, lastModifiedAt, firstConvertedAt,
  lastConvertedAt, closedAt, firstName, lastName, email, company; anything else sorts by insertedAt.
  ``dir`` asc|desc defaults to desc (facts.md: do not rely on the default); ties order by lead number.
- Auth only through the ``access_token`` query parameter (the document's only method); missing/wrong → 401.
- Soft-deleted leads are hidden unless ``includeDeleted=true``; ``excludeConversionEvents=true`` empties
  ``leadConversionEvents`` (``numConversionEvents`` stays). ``optOut``/``eligibleForEmail``/``bounced``/
  ``isNotImported`` = true keep only matching leads; false (the default) keeps all. ``search`` matches
  first/last name, email and company, case-insensitively. More than 100 ``guids[n]`` → 413.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from sandbox.core import QueryError, SandboxConfig, SandboxRequest, SandboxResponse, now_ms
from sandbox.hubspot_common import bad_request, check_token, error, not_found, parse_bool
from sandbox.hubspot_leads_render import render_lead, static_lead
from sandbox.hubspot_leads_world import MASK, PIVOTS, SHIFT, LeadsWorld, Snapshot, lead_state

PATH = "/leads/v1/list"
DEFAULT_MAX, MAX_MAX, MAX_GUIDS = 10, 100, 100  # hubspot-leads-api.txt
NAME_SORTS = ("firstName", "lastName", "email", "company")
_GUID_PARAM = re.compile(r"^guids\[\d+\]$")


@dataclass(frozen=True)
class LeadsQuery:
    max: int
    offset: int
    sort: str
    descending: bool
    pivot: str
    start: int
    stop: int
    include_deleted: bool
    exclude_conversion_events: bool
    opt_out: bool
    eligible_for_email: bool
    bounced: bool
    not_imported: bool
    search: str
    guids: tuple[str, ...]

    @property
    def needs_predicate(self) -> bool:
        return self.opt_out or self.eligible_for_email or self.bounced or self.not_imported or bool(self.search)


def _int(request: SandboxRequest, name: str, default: int) -> int:
    value = request.param(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise QueryError(f"Invalid value for '{name}': {value!r} is not an integer.") from None


def parse_query(request: SandboxRequest, now_ms: int) -> LeadsQuery:
    size = _int(request, "max", DEFAULT_MAX)
    offset = _int(request, "offset", 0)
    if size < 1 or offset < 0:
        raise QueryError("'max' must be positive and 'offset' must not be negative.")
    direction = (request.param("dir") or "desc").lower()
    if direction not in ("asc", "desc"):
        raise QueryError("Invalid value for 'dir': must be asc or desc.")
    pivot = request.param("timePivot") or "insertedAt"
    if pivot not in PIVOTS:
        raise QueryError(f"Invalid value for 'timePivot': must be one of {', '.join(PIVOTS)}.")
    sort = request.param("sort") or "insertedAt"
    guids = tuple(v for k, vs in request.query.items() if _GUID_PARAM.match(k) or k == "guids" for v in vs)
    return LeadsQuery(
        max=min(size, MAX_MAX),  # a larger max is served as 100, not refused (facts.md)
        offset=offset,
        sort=sort if sort in PIVOTS or sort in NAME_SORTS else "insertedAt",
        descending=direction == "desc",
        pivot=pivot,
        start=_int(request, "startTime", 0),
        stop=_int(request, "stopTime", now_ms),
        include_deleted=parse_bool(request.param("includeDeleted")),
        exclude_conversion_events=parse_bool(request.param("excludeConversionEvents")),
        opt_out=parse_bool(request.param("optOut")),
        eligible_for_email=parse_bool(request.param("eligibleForEmail")),
        bounced=parse_bool(request.param("bounced")),
        not_imported=parse_bool(request.param("isNotImported")),
        search=(request.param("search") or "").strip().lower(),
        guids=guids,
    )


class HubSpotLeadsSim:
    """Answers ``/leads/v1/list`` from ``LeadsWorld`` snapshots; one instance caches its snapshots."""

    name = "hubspot_leads"

    def __init__(self) -> None:
        self.world = LeadsWorld()

    def matches(self, path: str) -> bool:
        return path.startswith("/leads/v1/")

    def handle(self, request: SandboxRequest, config: SandboxConfig) -> SandboxResponse:
        denied = check_token(request, request.param("access_token"), config.hubspot_token)
        if denied:
            return denied
        if request.path.rstrip("/") != PATH:
            return not_found(request)
        if request.method != "GET":
            return error(request, 405, f"Method {request.method} not allowed.", category="VALIDATION_ERROR")
        try:
            query = parse_query(request, now_ms(config))
        except QueryError as exc:
            return bad_request(request, str(exc))
        if len(query.guids) > MAX_GUIDS:  # "413 Request Entity Too Large" (hubspot-leads-api.txt)
            return error(request, 413, f"Too many guids ({len(query.guids)}); request at most {MAX_GUIDS}.")
        snap = self.world.snapshot(config)
        numbers = _page(self.world, snap, query)
        leads = [
            render_lead(
                config.seed,
                lead_state(snap.key, n, snap.now_ms),
                exclude_conversion_events=query.exclude_conversion_events,
                field_variants=config.field_variants,
            )
            for n in numbers
        ]
        return SandboxResponse.json(200, leads)


def _page(world: LeadsWorld, snap: Snapshot, query: LeadsQuery) -> list[int]:
    """Lead numbers of the requested page: the fast path slices the index, the rest filter and skip."""
    if query.sort == query.pivot and not query.guids and not query.needs_predicate:
        index = snap.index(query.sort, query.include_deleted)
        lo = bisect_left(index, query.start << SHIFT)
        hi = max(lo, bisect_right(index, (query.stop << SHIFT) | MASK))
        if query.descending:
            top = hi - query.offset
            keys = index[max(lo, top - query.max) : max(lo, top)][::-1]
        else:
            keys = index[lo + query.offset : min(hi, lo + query.offset + query.max)]
        return [key & MASK for key in keys]
    return list(islice(_matching(world, snap, query), query.offset, query.offset + query.max))


def _matching(world: LeadsWorld, snap: Snapshot, query: LeadsQuery) -> Iterator[int]:
    """Lead numbers matching ``query`` in response order (before offset/max)."""
    values = snap.values[query.pivot]
    start, stop = query.start, query.stop
    keep = _predicate(snap, query)

    def in_window(n: int) -> bool:
        return start <= values[n] <= stop

    if query.guids:
        found = [
            n
            for n in world.lead_numbers(snap, list(query.guids))
            if (query.include_deleted or not snap.deleted[n]) and in_window(n) and keep(n)
        ]
        return iter(_sorted(snap, query, found))
    if query.sort in PIVOTS:
        index = snap.index(query.sort, query.include_deleted)
        if query.sort == query.pivot:  # the fast path: the window is a slice of the index
            lo = bisect_left(index, start << SHIFT)
            hi = max(lo, bisect_right(index, (stop << SHIFT) | MASK))
            keys: Iterable[int] = reversed(range(lo, hi)) if query.descending else range(lo, hi)
            return (n for i in keys if keep(n := index[i] & MASK))
        ordered = reversed(index) if query.descending else iter(index)
        return (n for key in ordered if in_window(n := key & MASK) and keep(n))
    index = snap.index(query.pivot, query.include_deleted)
    lo, hi = bisect_left(index, start << SHIFT), bisect_right(index, (stop << SHIFT) | MASK)
    return iter(_sorted(snap, query, [n for key in index[lo:hi] if keep(n := key & MASK)]))


def _sorted(snap: Snapshot, query: LeadsQuery, numbers: list[int]) -> list[int]:
    if query.sort in PIVOTS:
        values = snap.values[query.sort]
        return sorted(numbers, key=lambda n: (values[n], n), reverse=query.descending)
    seed = snap.key.seed
    return sorted(numbers, key=lambda n: (static_lead(seed, n)[0][query.sort], n), reverse=query.descending)


def _predicate(snap: Snapshot, query: LeadsQuery) -> Callable[[int], bool]:
    if not query.needs_predicate:
        return lambda n: True

    def keep(n: int) -> bool:
        state = lead_state(snap.key, n, snap.now_ms)
        facts = state.facts
        if query.opt_out and not facts.opt_out:
            return False
        if query.bounced and not facts.bounced:
            return False
        if query.eligible_for_email and (facts.opt_out or facts.bounced or state.deleted):
            return False
        if query.not_imported and not facts.conversions:
            return False
        if query.search:
            body = static_lead(snap.key.seed, n)[0]
            fields = (body["firstName"], body["lastName"], body["email"], body["company"])
            return any(query.search in f.lower() for f in fields)
        return True

    return keep
