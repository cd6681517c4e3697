"""The leads behind the simulated HubSpot Leads API v1: who exists, and what each looks like on a given day.

Lead ``n`` is inserted on day ``world_start + n // leads_per_day``; insertion times grow with ``n``.
Everything that happens to a lead later (another conversion, an edit, becoming a customer, a soft delete) is
a fixed fact of the world drawn from one 256-bit hash of ``(seed, n)``; what the API shows depends only on
which of those events lie before simulated *now* = ``today`` 00:00 UTC (visible through the end of yesterday).
So moving the clock forward makes ``lastModifiedAt`` move for some old leads, exactly what an incremental
loader on ``lastModifiedAt`` must pick up, while the same (config, today) always gives the same bytes.

``Snapshot`` holds, for one ``today``, the pivot values of every visible lead and lazily built sorted indexes
(``pivot_ms << SHIFT | n``) that ``bisect`` answers range + offset queries from; building one for a million
leads takes a few seconds once, pages after that are cheap. Lead bodies are rendered on demand.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from hashlib import blake2b as _blake2b
from typing import NamedTuple

from sandbox.core import SandboxConfig, stable_hex
from sandbox.hubspot_common import DAY_MS, day_start_ms, world_start_ordinal

SHIFT = 24  # lead numbers below 16.7M fit under the pivot in an index key
MASK = (1 << SHIFT) - 1
PIVOTS = ("insertedAt", "firstConvertedAt", "lastConvertedAt", "lastModifiedAt", "closedAt")
_SNAPSHOTS_KEPT = 4
_MS_BITS = (1 << 28) - 1  # 28 random bits, taken modulo a day


def lead_guid(seed: int, n: int) -> str:
    """The lead's guid (32 hex like the document's ``8a41f2f22906b93a012906b9438f0008``)."""
    return stable_hex(seed, "lead", n)


class LeadFacts(NamedTuple):
    """The whole life of a lead, independent of the simulated clock (event times in epoch ms)."""

    inserted: int
    conversions: tuple[int, ...]  # the first one precedes insertion (a form submission creates the lead)
    modified: int  # 0 = never edited
    closed: int  # 0 = never becomes a customer
    deleted: int  # 0 = never soft-deleted; nothing happens to a lead after its deletion
    opt_out: bool
    bounced: bool


@dataclass(frozen=True)
class WorldKey:
    seed: int
    leads_per_day: int
    start_ms: int  # 00:00 UTC of the world's first day

    @classmethod
    def of(cls, config: SandboxConfig) -> WorldKey:
        return cls(config.seed, max(1, config.leads_per_day), day_start_ms(world_start_ordinal(config)))


def lead_facts(key: WorldKey, n: int) -> LeadFacts:
    """Draw the lead's life from one hash. Inlined bit twiddling: this runs a million times per snapshot."""
    h = int.from_bytes(_blake2b(b"%d:%d" % (key.seed, n), digest_size=32).digest(), "little")
    per_day = key.leads_per_day
    slot_ms = DAY_MS // per_day
    inserted = key.start_ms + (n // per_day) * DAY_MS + (n % per_day) * slot_ms + (h & 0xFFFFFFFF) % slot_ms
    conversions: tuple[int, ...] = ()
    if (h >> 32) & 0xFF >= 20:  # ~8% are imported: never converted on a form
        first = inserted - 1000 - ((h >> 40) & 0xFFFF) % 60_000
        if (h >> 56) & 0xFF < 64:  # ~25% convert again later
            second = inserted + (1 + ((h >> 64) & 0xFF) % 45) * DAY_MS + ((h >> 72) & _MS_BITS) % DAY_MS
            if (h >> 100) & 0xFF < 40:
                third = second + (1 + ((h >> 108) & 0xFF) % 30) * DAY_MS + ((h >> 116) & _MS_BITS) % DAY_MS
                conversions = (first, second, third)
            else:
                conversions = (first, second)
        else:
            conversions = (first,)
    modified = closed = deleted = 0
    if (h >> 144) & 0xFF < 77:  # ~30% are edited once
        modified = inserted + (1 + ((h >> 152) & 0xFF) % 60) * DAY_MS + ((h >> 160) & _MS_BITS) % DAY_MS
    if (h >> 188) & 0xFF < 26:  # ~10% become customers
        closed = inserted + (3 + ((h >> 196) & 0xFF) % 90) * DAY_MS + ((h >> 204) & _MS_BITS) % DAY_MS
    if (h >> 232) & 0xFF < 13:  # ~5% are soft-deleted
        deleted = inserted + (1 + ((h >> 240) & 0xFF) % 90) * DAY_MS + ((h >> 136) & _MS_BITS) % DAY_MS
        conversions = tuple(t for t in conversions if t < deleted)
        modified = modified if modified < deleted else 0
        closed = closed if closed < deleted else 0
    return LeadFacts(inserted, conversions, modified, closed, deleted, (h >> 248) & 0x3F < 4, (h >> 128) & 0xF == 0)


class LeadState(NamedTuple):
    """A lead as seen at one simulated now."""

    n: int
    facts: LeadFacts
    conversions: tuple[int, ...]
    modified: int
    closed: int
    deleted: int
    last_modified: int


def lead_state(key: WorldKey, n: int, now_ms: int) -> LeadState:
    f = lead_facts(key, n)
    conversions = tuple(t for t in f.conversions if t < now_ms)
    modified = f.modified if f.modified and f.modified < now_ms else 0
    closed = f.closed if f.closed and f.closed < now_ms else 0
    deleted = f.deleted if f.deleted and f.deleted < now_ms else 0
    last = max(f.inserted, conversions[-1] if conversions else 0, modified, closed, deleted)
    return LeadState(n, f, conversions, modified, closed, deleted, last)


class Snapshot:
    """Every lead visible at one ``now``, with lazily built sorted indexes per pivot."""

    def __init__(self, key: WorldKey, now_ms: int) -> None:
        self.key = key
        self.now_ms = now_ms
        days = max(0, (now_ms - key.start_ms) // DAY_MS)
        self.count = days * key.leads_per_day  # leads inserted before now
        self.values: dict[str, array] = {p: array("q", bytes(8 * self.count)) for p in PIVOTS}
        self.deleted = bytearray(self.count)
        self._indexes: dict[tuple[str, bool], list[int]] = {}
        self._lock = threading.Lock()
        self._fill()

    def _fill(self) -> None:
        """``lead_state`` for every visible lead, inlined (a million iterations for the benchmarks)."""
        ins, first, last_conv = (
            self.values["insertedAt"],
            self.values["firstConvertedAt"],
            self.values["lastConvertedAt"],
        )
        last_mod, closed_at, deleted_flags = (
            self.values["lastModifiedAt"],
            self.values["closedAt"],
            self.deleted,
        )
        key, now = self.key, self.now_ms
        for n in range(self.count):
            inserted, conversions, modified, closed, deleted, _, _ = lead_facts(key, n)
            ins[n] = last = inserted
            if conversions:
                first[n] = conversions[0]
                seen = [t for t in conversions if t < now] if conversions[-1] >= now else conversions
                last_conv[n] = seen[-1]
                last = max(last, seen[-1])
            if modified and modified < now:
                last = max(last, modified)
            if closed and closed < now:
                closed_at[n] = closed
                last = max(last, closed)
            if deleted and deleted < now:
                deleted_flags[n] = 1
                last = max(last, deleted)
            last_mod[n] = last

    def index(self, pivot: str, include_deleted: bool) -> list[int]:
        """Keys ``value << SHIFT | n`` sorted ascending (ties by lead number)."""
        with self._lock:
            found = self._indexes.get((pivot, include_deleted))
            if found is None:
                values, deleted = self.values[pivot], self.deleted
                found = sorted((values[n] << SHIFT) | n for n in range(self.count) if include_deleted or not deleted[n])
                self._indexes[(pivot, include_deleted)] = found
            return found


class LeadsWorld:
    """Thread-safe cache of snapshots (a few ``today`` values at a time) and of the guid → lead lookup."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[tuple[WorldKey, int], Snapshot] = OrderedDict()
        self._guids: dict[WorldKey, dict[str, int]] = {}

    def snapshot(self, config: SandboxConfig) -> Snapshot:
        key = WorldKey.of(config)
        now_ms = day_start_ms(config.today.toordinal())
        with self._lock:  # one build at a time; concurrent askers wait for it instead of duplicating it
            snap = self._snapshots.get((key, now_ms))
            if snap is None:
                snap = Snapshot(key, now_ms)
                self._snapshots[(key, now_ms)] = snap
                while len(self._snapshots) > _SNAPSHOTS_KEPT:
                    self._snapshots.popitem(last=False)
            else:
                self._snapshots.move_to_end((key, now_ms))
            return snap

    def lead_numbers(self, snap: Snapshot, guids: list[str]) -> list[int]:
        """Lead numbers of the given guids among the leads visible in ``snap`` (unknown guids are skipped)."""
        with self._lock:
            table = self._guids.setdefault(snap.key, {})
            for n in range(len(table), snap.count):  # extend as the clock moves forward
                table[lead_guid(snap.key.seed, n)] = n
        return sorted({n for g in guids if (n := table.get(g, snap.count)) < snap.count})
