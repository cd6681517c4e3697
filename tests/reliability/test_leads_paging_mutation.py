"""Issue 18, done-criterion: a Leads loader with plain offset paging (a test-only mutation of the real source) is
caught by the hard sandbox's mid-run changes, while the real loader (keyset re-anchoring, sources/common/keyset.py)
loses nothing in the same world.

The world: the hard sandbox as it is (`HARD`: the clock moves a minute per request, 30 lead edits an hour over
the leads of the last 90 days); one first nightly over 30 days of `lastModifiedAt` (about 1,000 leads, a dozen
pages). A lead edited during the run after its page was read leaves the frozen window; with plain offsets every
later page then starts one lead too far, and a lead that never changed is skipped.

"Lost" = a lead whose `lastModifiedAt` is inside the run's window [start_date, stopTime] at the end of the run
(it did not change while the run paged) but that is not in the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pendulum
import pytest

from sandbox.core import HUBSPOT_TOKEN
from sandbox.server import SandboxServer
from sources.common.client import Decoder
from sources.common.paginators import OffsetPaginator, paginate
from sources.hubspot import leads, settings
from tests.reliability.harness import FIRST_NIGHT, Night, Warehouse, World, night_of, run_night

WORLD = World.hard()
START = "2026-10-20"


def plain_offset_pages(client: Any, start_ms: int, stop_ms: int, decode: Decoder) -> Iterator[Sequence[Any]]:
    """The mutation: the same query (and decoding), paged with `max`/`offset` only (no re-anchoring)."""
    yield from paginate(
        client,
        "GET",
        settings.LEADS_PATH,
        endpoint=leads.ENDPOINT,
        params=leads.base_params(start_ms, stop_ms),
        paginator=OffsetPaginator(100, limit_param="max"),
        records=leads.leads_of,
        decode=decode,
    )


def leads_in_window(sandbox: SandboxServer, start_ms: int, stop_ms: int) -> set[str]:
    """Guids with start <= lastModifiedAt <= stop now; the clock must stand still (plain offsets are exact then)."""
    assert sandbox.config.clock_step_ms == 0
    found: list[dict[str, Any]] = []
    with httpx.Client(base_url=sandbox.base_url) as client:
        while True:
            params = {**leads.base_params(start_ms, stop_ms), "access_token": HUBSPOT_TOKEN, "max": 100,
                      "offset": len(found)}  # fmt: skip
            page = client.get(settings.LEADS_PATH, params=params).json()
            found += page
            if len(page) < 100:
                return {lead["guid"] for lead in found}


def lost_leads(start_world: Callable[..., SandboxServer], subject: Warehouse) -> tuple[set[str], set[str], int]:
    """(lost, stayed, requests) of one first nightly of hubspot_leads from START on the hard sandbox."""
    sandbox = start_world(WORLD)
    result = run_night(
        subject, sandbox, WORLD, Night(FIRST_NIGHT), sources=("hubspot_leads",),
        settings={"SOURCES__HUBSPOT__START_DATE": START},
    )  # fmt: skip
    assert result.code == 0, result.out + result.err
    moved_to = sandbox.now()
    assert moved_to > night_of(FIRST_NIGHT), "the clock did not move during the run"
    sandbox.configure(clock_step_ms=0)  # the world as the run left it
    start_ms = int(pendulum.parse(START).timestamp() * 1000)
    stop_ms = int(night_of(FIRST_NIGHT).timestamp() * 1000)
    stayed = leads_in_window(sandbox, start_ms, stop_ms)
    loaded = {guid for (guid,) in subject.query("SELECT guid FROM marketing.hubspot_leads")}
    return stayed - loaded, stayed, result.requests


def test_plain_offset_paging_for_leads_is_caught_losing_leads_the_sandbox_edits_mid_run(
    start_world: Callable[..., SandboxServer], warehouse: Callable[[str], Warehouse], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutation: `fetch_pages` pages with OffsetPaginator(100, limit_param="max"). Expected: leads are lost."""
    monkeypatch.setattr(leads, "fetch_pages", plain_offset_pages)
    lost, stayed, requests = lost_leads(start_world, warehouse("mutant"))
    assert requests >= 10 and len(stayed) > 900, (requests, len(stayed))
    assert lost, "plain offset paging lost no lead: the sandbox's mid-run changes did not catch the mutation"
    print(f"plain offsets: {len(lost)} of {len(stayed)} unchanged leads lost in {requests} requests")


def test_the_real_leads_loader_loses_no_lead_in_the_same_world(
    start_world: Callable[..., SandboxServer], warehouse: Callable[[str], Warehouse]
) -> None:
    """The real source (keyset re-anchoring) on the same world and run shape. Expected: no lead lost."""
    lost, stayed, requests = lost_leads(start_world, warehouse("real"))
    assert requests >= 10 and len(stayed) > 900, (requests, len(stayed))
    assert not lost, f"{len(lost)} leads lost: {sorted(lost)[:5]}"
