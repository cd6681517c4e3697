"""The warehouse is the truth; DLT_DATA_DIR is a cache.

dlt restores state from the destination only when the local state is missing or older, and wipes it only
when the whole dataset is gone. That leaves ordinary cases where local cursors claim data the warehouse
does not hold (the file deleted and recreated by another source's pipeline, a warehouse restored from an
older copy, a data dir that loaded another destination): the nightly would then skip that data and exit 0.

Before a source extracts anything, `reconcile` checks the claim (the pipeline's last completed load is in
the warehouse's `_dlt_loads`), and when the warehouse is behind, drops the local state and takes the
warehouse's (dlt's `sync_destination`), or starts from `start_date` when the warehouse has none.
`finish_pending` then completes what an interrupted run left, `reset_missing_tables` restarts a resource
whose tables are gone, and `start_date_notes` says when a configured `start_date` is ignored by a cursor.
"""

from __future__ import annotations

import logging
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.pipeline.helpers import pipeline_drop

from sources.common.dates import resolve_start_date
from sources.common.errors import ConfigError

from . import ledger
from .readers import ClientReader, Missing
from .registry import SourceSpec
from .state import as_day, cursors, stored_state

log = logging.getLogger("marketing_elt")


def reconcile(pipeline: dlt.Pipeline, spec: SourceSpec) -> list[str]:
    """Make the local state agree with the warehouse before extracting; the notes say what changed."""
    local = pipeline.state
    last = last_completed_load(pipeline)
    with pipeline.sql_client() as client:
        reader = ClientReader(client)
        remote = stored_state(reader, pipeline.pipeline_name)
        present = last is not None and load_present(reader, last)

    if not local.get("sources"):  # nothing claimed locally: a new or lost DLT_DATA_DIR
        if remote is None:
            return []
        pipeline.sync_destination()
        return [
            f"{spec.name}: no local state in DLT_DATA_DIR; continuing from the warehouse's state "
            f"(saved by load {remote.load_id} at {_when(remote.created_at)})."
        ]
    if remote is not None and remote.version_hash == local.get("_version_hash"):
        return []
    if last is not None and present:
        if remote is None or remote.version <= local.get("_state_version", 0):
            return []  # local is ahead only by work not loaded yet (finished next)
        reason = "the warehouse holds newer state than DLT_DATA_DIR (another data dir loaded it since)"
    elif last is None and pipeline.has_pending_data:
        return []  # the first load of this pipeline is pending: nothing was claimed before it
    elif last is not None:
        reason = (
            f"the warehouse does not hold this pipeline's last load {last} (the warehouse was deleted, restored "
            "from an older copy, or is another destination than DLT_DATA_DIR loaded)"
        )
    else:
        reason = "DLT_DATA_DIR holds cursors but no record of the loads behind them, and the warehouse disagrees"

    discarded = pipeline.has_pending_data
    pipeline.drop()
    pipeline.sync_destination()
    outcome = (
        f"continuing from the warehouse's own state (saved by load {remote.load_id} at {_when(remote.created_at)})"
        if remote is not None and pipeline.state.get("sources")
        else "starting again from start_date"
    )
    note = f"{spec.name}: {reason}: {outcome}."
    if discarded:
        note += " The pending load package of an interrupted run, built on the discarded state, was dropped."
    log.info(note)
    return [note]


def finish_pending(pipeline: dlt.Pipeline) -> list[str]:
    """Normalize and load the packages an interrupted run left; returns their load ids.

    dlt's `run()` would do only this and return without extracting, so a nightly or backfill after a crash
    would end "ok" having requested nothing; finishing them first lets the requested work follow.
    """
    if not pipeline.has_pending_data:
        return []
    _drop_committed_extracts(pipeline)
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    if not pipeline.list_normalized_load_packages():
        return []
    info = pipeline.load()
    return list(info.loads_ids)


def _drop_committed_extracts(pipeline: dlt.Pipeline) -> None:
    """A package both extracted and normalized was killed inside dlt's normalize commit ("do not kill this
    process": renamed to normalized, extracted copy not yet deleted). The normalized package is the whole
    of it; normalizing the copy again fails on every later run, so the copy is deleted (what dlt would do)."""
    committed = set(pipeline.list_normalized_load_packages()) | set(pipeline.list_completed_load_packages())
    for load_id in set(pipeline.list_extracted_load_packages()) & committed:
        log.info("%s: dropping the extracted copy of package %s, already normalized", pipeline.pipeline_name, load_id)
        pipeline._get_normalize_storage().extracted_packages.delete_package(load_id)


def reset_missing_tables(pipeline: dlt.Pipeline, spec: SourceSpec) -> list[str]:
    """A resource whose cursor is set but whose tables are gone from the warehouse starts again.

    Its remaining tables are dropped with its state (dlt's `pipeline_drop`) so the tables are created
    anew and reloaded from `start_date`; a partial reset would leave the stored schema believing they exist.
    """
    if not pipeline.default_schema_name:
        return []
    with_cursor = {cursor.resource for cursor in cursors(pipeline.state, spec.name)}
    seen = pipeline.default_schema.data_tables(seen_data_only=True)
    tables = {resource: [t["name"] for t in seen if t.get("resource") == resource] for resource in with_cursor}
    names = [name for group in tables.values() for name in group]
    if not names:
        return []
    try:
        with pipeline.destination_client() as client:
            stored = {name for name, columns in client.get_storage_tables(names) if columns}
    except DestinationUndefinedEntity:
        stored = set()
    broken = {resource: [t for t in group if t not in stored] for resource, group in tables.items()}
    broken = {resource: missing for resource, missing in broken.items() if missing}
    if not broken:
        return []
    pipeline_drop(pipeline, resources=sorted(broken))()
    return [
        f"{spec.name}: the warehouse lacks {', '.join(missing)}, which {resource} loaded before: {resource} starts "
        "again from start_date (its other tables were dropped to be reloaded with it)."
        for resource, missing in sorted(broken.items())
    ]


def start_date_notes(pipeline: dlt.Pipeline, spec: SourceSpec) -> list[str]:
    """A configured `start_date` before where a resource started is not applied: the cursor wins. Say so,
    with the backfill that loads the earlier days, unless a successful backfill already covered them."""
    configured: Any = dlt.config.get(f"sources.{spec.section}.start_date")
    if configured is None or not str(configured).strip():
        return []
    try:
        first = resolve_start_date(configured, 0)
    except ConfigError:
        return []
    started = [day for c in cursors(pipeline.state, spec.name) if (day := as_day(c.initial_value)) and day > first]
    if not started:
        return []
    end = max(started).subtract(days=1)
    try:
        with pipeline.sql_client() as client:
            if ledger.backfilled(ClientReader(client), spec.name, first, end):
                return []
    except Missing:
        pass
    return [
        f"{spec.name}: start_date {first} is earlier than where it started loading ({max(started)}): the cursor "
        f"wins, so the nightly does not go back; to load {first} to {end} run "
        f"`marketing-elt backfill --start {first} --end {end} --sources {spec.name}`."
    ]


def last_completed_load(pipeline: dlt.Pipeline) -> str | None:
    """The newest package this data dir loaded completely (aborted ones do not count)."""
    for load_id in sorted(pipeline.list_completed_load_packages(), reverse=True):
        if pipeline.get_load_package_info(load_id).state == "loaded":
            return load_id
    return None


def load_present(reader: ClientReader, load_id: str) -> bool:
    sql = f"SELECT COUNT(*) FROM {reader.qualify('_dlt_loads')} WHERE load_id = %s AND status = 0"
    try:
        rows = reader.query(sql, load_id)
    except Missing:
        return False
    return bool(rows and rows[0][0])


def _when(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
