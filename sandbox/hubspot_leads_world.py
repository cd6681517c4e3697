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

When the simulated clock moves during the day (``SandboxConfig.clock_start_s``/``clock_step_ms``), *now* is a
millisecond of today: the day's 00:00 snapshot also lists the leads with an event later that day, and the
snapshot at a later now is that one with only those leads (and the leads inserted since) recomputed and
re-indexed, so a moving clock costs a few hundred lead states per request, not a rebuild.

Hardening (off by default): ``leads_churn_per_hour`` gives every lead extra edits in its first
``leads_churn_days`` days (rate chosen so the whole portal sees that many edits an hour; one lead in eight is
soft-deleted at some moment of that span) — the edits that happen while a run pages, also to leads a run has
already read; ``leads_bulk_edit_size`` stamps about that many leads, inserted ``leads_churn_days`` to that
+ 28 days before, with Monday 13:00:00.000 UTC every week (a bulk edit: more than a page of leads tied on
one ``lastModifiedAt`` millisecond, which no later churn edit breaks up). Both are fixed facts of the world.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from hashlib import blake2b as _blake2b
from typing import NamedTuple

from sandbox.core import SandboxConfig, clock_moves, now_ms, rng, stable_hex
from sandbox.hubspot_common import DAY_MS, EPOCH_ORDINAL, day_start_ms, world_start_ordinal

SHIFT = 24  # lead numbers below 16.7M fit under the pivot in an index key
MASK = (1 << SHIFT) - 1
PIVOTS = ("insertedAt", "firstConvertedAt", "lastConvertedAt", "lastModifiedAt", "closedAt")
_SNAPSHOTS_KEPT = 6
_MS_BITS = (1 << 28) - 1  # 28 random bits, taken modulo a day
BULK_EDIT_MS = 13 * 3_600_000  # the weekly bulk edit: Mondays 13:00:00.000 UTC
BULK_AGE_SPAN_DAYS = 28  # it stamps leads inserted churn_days .. churn_days + 28 days before it


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
    edits: tuple[int, ...] = ()  # further edits (churn, bulk edits), ascending; empty unless hardened


@dataclass(frozen=True)
class WorldKey:
    seed: int
    leads_per_day: int
    start_ms: int  # 00:00 UTC of the world's first day
    churn_per_hour: float = 0.0
    bulk_size: int = 0
    churn_days: int = 90

    @classmethod
    def of(cls, config: SandboxConfig) -> WorldKey:
        return cls(
            config.seed,
            max(1, config.leads_per_day),
            day_start_ms(world_start_ordinal(config)),
            config.leads_churn_per_hour,
            config.leads_bulk_edit_size,
            max(1, config.leads_churn_days),
        )


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
    facts = LeadFacts(inserted, conversions, modified, closed, deleted, (h >> 248) & 0x3F < 4, (h >> 128) & 0xF == 0)
    if key.churn_per_hour or key.bulk_size:
        return _hardened(key, n, facts)
    return facts


@lru_cache(maxsize=200_000)
def _hardened(key: WorldKey, n: int, facts: LeadFacts) -> LeadFacts:
    """Add the churn and bulk edits of lead ``n`` (see the module docstring); a churn delete ends its life."""
    inserted = facts.inserted
    edits: list[int] = []
    churn_delete = 0
    if key.churn_per_hour:
        r = rng(key.seed, "churn", n)
        expected = 24 * key.churn_per_hour / key.leads_per_day  # edits per lead over its churn days
        count = int(expected) + (r.random() < expected - int(expected))
        span = key.churn_days * DAY_MS
        edits = sorted(inserted + 1 + int(r.random() * span) for _ in range(count))
        if r.random() < 0.125:  # deleted at some moment of its churn span; no edit follows
            churn_delete = inserted + 1 + int(r.random() * span)
    if key.bulk_size:
        eligible = BULK_AGE_SPAN_DAYS * key.leads_per_day  # the leads one bulk edit draws from
        lo = inserted + key.churn_days * DAY_MS
        hi = lo + BULK_AGE_SPAN_DAYS * DAY_MS
        first_day = lo // DAY_MS + EPOCH_ORDINAL
        for day in range(first_day + (1 - first_day) % 7, hi // DAY_MS + EPOCH_ORDINAL + 1, 7):  # ordinal 1: Monday
            at = (day - EPOCH_ORDINAL) * DAY_MS + BULK_EDIT_MS
            if lo <= at < hi:
                pick = int.from_bytes(_blake2b(b"bulk:%d:%d:%d" % (key.seed, n, day), digest_size=8).digest(), "little")
                if pick % eligible < key.bulk_size:
                    edits.append(at)
        edits.sort()
    deleted = facts.deleted
    if churn_delete and (not deleted or churn_delete < deleted):
        deleted = churn_delete
    if deleted:  # nothing happens to a lead after its deletion
        return facts._replace(
            conversions=tuple(t for t in facts.conversions if t < deleted),
            modified=facts.modified if facts.modified < deleted else 0,
            closed=facts.closed if facts.closed < deleted else 0,
            deleted=deleted,
            edits=tuple(t for t in edits if t < deleted),
        )
    return facts._replace(edits=tuple(edits))


class LeadState(NamedTuple):
    """A lead as seen at one simulated now."""

    n: int
    facts: LeadFacts
    conversions: tuple[int, ...]
    modified: int  # the latest edit before now (0 = none)
    closed: int
    deleted: int
    last_modified: int
    edits: int = 0  # churn and bulk edits before now


def lead_state(key: WorldKey, n: int, now_ms: int) -> LeadState:
    f = lead_facts(key, n)
    conversions = tuple(t for t in f.conversions if t < now_ms)
    modified = f.modified if f.modified and f.modified < now_ms else 0
    edits = bisect.bisect_left(f.edits, now_ms)
    if edits:
        modified = max(modified, f.edits[edits - 1])
    closed = f.closed if f.closed and f.closed < now_ms else 0
    deleted = f.deleted if f.deleted and f.deleted < now_ms else 0
    last = max(f.inserted, conversions[-1] if conversions else 0, modified, closed, deleted)
    return LeadState(n, f, conversions, modified, closed, deleted, last, edits)


def inserted_before(key: WorldKey, now_ms: int) -> int:
    """How many leads exist at ``now_ms`` (insertion times grow with the lead number)."""
    days = max(0, (now_ms - key.start_ms) // DAY_MS)
    count = days * key.leads_per_day
    while lead_facts(key, count).inserted < now_ms and count < (days + 1) * key.leads_per_day:
        count += 1
    return count


def _events(f: LeadFacts) -> tuple[int, ...]:
    return (*f.conversions, f.modified, f.closed, f.deleted, *f.edits)


class Snapshot:
    """Every lead visible at one ``now``, with lazily built sorted indexes per pivot.

    ``track_until`` (ms): also list in ``upcoming`` the leads with an event in ``[now, track_until)``, from
    which ``advanced()`` derives a later snapshot of the same day.
    """

    def __init__(self, key: WorldKey, now_ms: int, *, track_until: int | None = None) -> None:
        self.key = key
        self.now_ms = now_ms
        self.count = inserted_before(key, now_ms)  # leads inserted before now
        self.values: dict[str, array] = {p: array("q", bytes(8 * self.count)) for p in PIVOTS}
        self.deleted = bytearray(self.count)
        self.upcoming: list[int] = []
        self.base: Snapshot | None = None
        self._changed: list[int] = []  # leads whose values differ from `base` (those it already had)
        self._indexes: dict[tuple[str, bool], list[int]] = {}
        self._lock = threading.Lock()
        self._fill(track_until)

    def _fill(self, track_until: int | None) -> None:
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
            facts = lead_facts(key, n)
            inserted, conversions, modified, closed, deleted, _, _, edits = facts
            ins[n] = last = inserted
            if conversions:
                first[n] = conversions[0]
                seen = [t for t in conversions if t < now] if conversions[-1] >= now else conversions
                last_conv[n] = seen[-1]
                last = max(last, seen[-1])
            if modified and modified < now:
                last = max(last, modified)
            if edits and edits[0] < now:
                last = max(last, edits[bisect.bisect_left(edits, now) - 1])
            if closed and closed < now:
                closed_at[n] = closed
                last = max(last, closed)
            if deleted and deleted < now:
                deleted_flags[n] = 1
                last = max(last, deleted)
            last_mod[n] = last
            if track_until is not None and any(now <= t < track_until for t in _events(facts)):
                self.upcoming.append(n)

    @classmethod
    def advanced(cls, base: Snapshot, now_ms: int) -> Snapshot:
        """``base`` moved on to ``now_ms`` (same day, later): only its ``upcoming`` leads and the leads inserted
        since are recomputed."""
        snap = cls.__new__(cls)
        snap.key, snap.now_ms, snap.base = base.key, now_ms, base
        snap.count = inserted_before(base.key, now_ms)
        grow = snap.count - base.count
        snap.values = {p: array("q", v) for p, v in base.values.items()}
        for column in snap.values.values():
            column.extend(array("q", bytes(8 * grow)))
        snap.deleted = bytearray(base.deleted) + bytearray(grow)
        snap.upcoming = []
        snap._changed = [n for n in base.upcoming if n < base.count]
        snap._indexes = {}
        snap._lock = threading.Lock()
        for n in (*snap._changed, *range(base.count, snap.count)):
            state = lead_state(snap.key, n, now_ms)
            facts = state.facts
            snap.values["insertedAt"][n] = facts.inserted
            snap.values["firstConvertedAt"][n] = facts.conversions[0] if facts.conversions else 0
            snap.values["lastConvertedAt"][n] = state.conversions[-1] if state.conversions else 0
            snap.values["lastModifiedAt"][n] = state.last_modified
            snap.values["closedAt"][n] = state.closed
            snap.deleted[n] = 1 if state.deleted else 0
        return snap

    def index(self, pivot: str, include_deleted: bool) -> list[int]:
        """Keys ``value << SHIFT | n`` sorted ascending (ties by lead number)."""
        with self._lock:
            found = self._indexes.get((pivot, include_deleted))
            if found is None:
                found = self._build_index(pivot, include_deleted)
                self._indexes[(pivot, include_deleted)] = found
            return found

    def _build_index(self, pivot: str, include_deleted: bool) -> list[int]:
        values, deleted = self.values[pivot], self.deleted
        if self.base is None:
            return sorted((values[n] << SHIFT) | n for n in range(self.count) if include_deleted or not deleted[n])
        base = self.base
        keys = list(base.index(pivot, include_deleted))
        old_values, old_deleted = base.values[pivot], base.deleted
        for n in self._changed:
            if include_deleted or not old_deleted[n]:
                old = (old_values[n] << SHIFT) | n
                del keys[bisect.bisect_left(keys, old)]
        for n in (*self._changed, *range(base.count, self.count)):
            if include_deleted or not deleted[n]:
                bisect.insort(keys, (values[n] << SHIFT) | n)
        return keys


class LeadsWorld:
    """Thread-safe cache of snapshots (a few ``today`` values at a time) and of the guid → lead lookup."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[tuple[WorldKey, int], Snapshot] = OrderedDict()
        self._guids: dict[WorldKey, dict[str, int]] = {}

    def snapshot(self, config: SandboxConfig) -> Snapshot:
        """The leads at the config's simulated now (``today`` 00:00 unless the clock moves)."""
        key = WorldKey.of(config)
        day_ms = day_start_ms(config.today.toordinal())
        moves = clock_moves(config)
        track = day_ms + DAY_MS if moves else None
        base = self._cached((key, day_ms), lambda: Snapshot(key, day_ms, track_until=track))
        now = now_ms(config)
        if now == day_ms:
            return base
        if not moves:  # a now set by hand, without a moving clock: no upcoming list to derive it from
            return self._cached((key, now), lambda: Snapshot(key, now))
        return self._cached((key, now), lambda: Snapshot.advanced(base, now))

    def _cached(self, cache_key: tuple[WorldKey, int], build: Callable[[], Snapshot]) -> Snapshot:
        with self._lock:  # one build at a time; concurrent askers wait for it instead of duplicating it
            snap = self._snapshots.get(cache_key)
            if snap is None:
                snap = build()
                self._snapshots[cache_key] = snap
                while len(self._snapshots) > _SNAPSHOTS_KEPT:
                    self._snapshots.popitem(last=False)
            else:
                self._snapshots.move_to_end(cache_key)
            return snap

    def lead_numbers(self, snap: Snapshot, guids: list[str]) -> list[int]:
        """Lead numbers of the given guids among the leads visible in ``snap`` (unknown guids are skipped)."""
        with self._lock:
            table = self._guids.setdefault(snap.key, {})
            for n in range(len(table), snap.count):  # extend as the clock moves forward
                table[lead_guid(snap.key.seed, n)] = n
        return sorted({n for g in guids if (n := table.get(g, snap.count)) < snap.count})
