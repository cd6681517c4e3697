"""dlt pipeline state, read the same way whether it comes from DLT_DATA_DIR or from the warehouse.

dlt keeps each resource's cursor under `sources.<source>.resources.<resource>.incremental.<cursor path>`
(dlt/extract/incremental: `initial_value` where the resource started, `last_value` how far it got), and
stores every new version of the whole state in the warehouse's `_dlt_pipeline_state`, compressed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pendulum
from dlt.common.pipeline import TPipelineState
from dlt.common.versioned_state import decompress_state
from dlt.pipeline.state_sync import migrate_state_to_current

from .readers import Missing, Reader

EPOCH_MS_FLOOR = 10**11  # 1973 in ms; no other cursor we keep is an integer this large


@dataclass(frozen=True)
class Cursor:
    resource: str
    path: str
    last_value: Any
    initial_value: Any

    @property
    def day(self) -> pendulum.Date | None:
        """The day the cursor has reached."""
        return as_day(self.last_value)


def cursors(state: TPipelineState | dict[str, Any] | None, source: str) -> list[Cursor]:
    """Every incremental cursor of `source`'s resources, sorted by resource and path."""
    resources = ((state or {}).get("sources") or {}).get(source, {}).get("resources", {})
    out = []
    for resource, resource_state in sorted(resources.items()):
        for path, incremental in sorted((resource_state.get("incremental") or {}).items()):
            out.append(Cursor(resource, path, incremental.get("last_value"), incremental.get("initial_value")))
    return out


@dataclass(frozen=True)
class StoredState:
    """The newest state of a pipeline that the warehouse holds from a completed load."""

    version: int
    version_hash: str
    state: TPipelineState
    created_at: Any
    load_id: str


def stored_state(reader: Reader, pipeline_name: str) -> StoredState | None:
    """What dlt would restore (the newest state row of a completed load); None when the warehouse has none.

    The same query as dlt's `get_stored_state`, through a `Reader` so `status` can run it read-only.
    """
    sql = (
        f"SELECT s.version, s.version_hash, s.state, s.created_at, s._dlt_load_id "
        f"FROM {reader.qualify('_dlt_pipeline_state')} AS s JOIN {reader.qualify('_dlt_loads')} AS l "
        "ON l.load_id = s._dlt_load_id WHERE s.pipeline_name = %s AND l.status = 0 "
        "ORDER BY l.load_id DESC LIMIT 1"
    )
    try:
        rows = reader.query(sql, pipeline_name)
    except Missing:
        return None
    if not rows:
        return None
    version, version_hash, blob, created_at, load_id = rows[0]
    return StoredState(int(version), str(version_hash), decode_stored(pipeline_name, blob), created_at, str(load_id))


def decode_stored(pipeline_name: str, blob: str) -> TPipelineState:
    """The state as stored in `_dlt_pipeline_state.state` (compressed), migrated to this dlt's format."""
    return migrate_state_to_current(pipeline_name, decompress_state(blob))


def as_day(value: Any) -> pendulum.Date | None:
    """A cursor value (date, timestamp, ISO text, epoch ms) as the UTC calendar day it falls on."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > EPOCH_MS_FLOOR else value
        return pendulum.from_timestamp(seconds, tz="UTC").date()
    if isinstance(value, dt.datetime):
        return pendulum.instance(value).in_timezone("UTC").date()
    if isinstance(value, dt.date):
        return pendulum.Date(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return as_day(pendulum.parse(value))
        except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
            return None
    return None


def readable(value: Any) -> Any:
    """Epoch-millisecond cursors (Leads v1) read better as UTC timestamps; other values pass through."""
    if isinstance(value, int) and not isinstance(value, bool) and value > EPOCH_MS_FLOOR:
        return pendulum.from_timestamp(value / 1000, tz="UTC").isoformat()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
