"""A read-only copy of the DuckDB warehouse for BI tools.

DuckDB lets one process write a file, and a BI tool (Metabase, Superset, a notebook) that keeps the
warehouse open blocks the nightly's write. So BI tools read a copy: after each run (with `publish_path`
set) or on `marketing-elt publish`, the warehouse is copied into a new file next to the target, which
then replaces the target in one rename. A reader holding the old copy keeps reading the old file until it
reconnects; nobody ever sees half a copy. The copy is made with DuckDB's `COPY FROM DATABASE` through a
read-only attach of the warehouse, so it is consistent (DuckDB refuses while a load writes) and includes
the reporting views; it is marked read-only on disk (mode 0444).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.failures import duckdb_lock_holder, one_line
from pipelines.warehouse import duckdb_path
from sources.common.errors import ConfigError, MarketingEltError

from .settings import publish_path

READ_ONLY_MODE = 0o444


class PublishFailed(MarketingEltError):
    """The copy could not be made (the warehouse is being written, the target directory is not writable)."""


@dataclass(frozen=True)
class PublishResult:
    path: Path
    bytes: int

    @property
    def note(self) -> str:
        return f"published a read-only copy for BI tools at {self.path} ({self.bytes / 1e6:.1f} MB)."


def publish(warehouse: Path, target: Path) -> PublishResult:
    """Copy `warehouse` to `target` atomically and read-only."""
    warehouse, target = warehouse.resolve(), target.expanduser().resolve()
    if not warehouse.exists():
        raise ConfigError(f"There is no warehouse at {warehouse} to publish: run `marketing-elt run` first.")
    if target == warehouse:
        raise ConfigError(f"The publish target {target} is the warehouse itself: choose another file.")
    if not target.parent.is_dir():
        raise ConfigError(f"The publish target's directory {target.parent} does not exist: create it first.")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _remove(tmp)
    try:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {_literal(warehouse)} AS warehouse (READ_ONLY)")
            con.execute(f"ATTACH {_literal(tmp)} AS published")
            con.execute("COPY FROM DATABASE warehouse TO published")
        finally:
            con.close()
        os.chmod(tmp, READ_ONLY_MODE)
        tmp.replace(target)
    except duckdb.Error as exc:
        _remove(tmp)
        holder = duckdb_lock_holder(str(exc))
        if holder is not None:
            raise PublishFailed(
                f"The warehouse {warehouse} is being written by {holder[1]} (PID {holder[2]}): publish once it is "
                "done (a run publishes by itself when MARKETING_ELT__PUBLISH_PATH is set)."
            ) from None
        raise PublishFailed(f"Could not copy {warehouse} to {target}: {one_line(str(exc))}") from None
    except OSError as exc:
        _remove(tmp)
        raise PublishFailed(f"Could not write {target} ({exc.strerror}): check the directory's permissions.") from None
    return PublishResult(target, target.stat().st_size)


def publish_if_configured(destination: str) -> PublishResult | None:
    """After a run: publish when the destination is DuckDB and `publish_path` is set."""
    target = publish_path()
    if destination != "duckdb" or target is None:
        return None
    return publish(duckdb_path(), target)


def publish_after_run(destination: str) -> list[str]:
    """For the end of a run: the note to print, never an exception (the load itself is complete)."""
    try:
        result = publish_if_configured(destination)
    except MarketingEltError as exc:
        return [f"the BI copy was not published: {exc}"]
    return [] if result is None else [result.note]


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _remove(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
