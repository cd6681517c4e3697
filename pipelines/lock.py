"""One run at a time: an exclusive lock per data dir and per DuckDB warehouse file.

Two runs on the same `DLT_DATA_DIR` would share dlt's pipeline working dirs (state, pending packages),
and two writers on one DuckDB file fail at random points; so a second run is refused at once, naming
the holder. The lock is an `flock` on a small file: the kernel releases it when the holder exits, however
it exits (SIGKILL included), so a lock left by a dead process is simply free, and the holder details it
left behind are reported as taken over. The file holds the current holder as JSON for the refusal message.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from sources.common import clock
from sources.common.errors import ConfigError, MarketingEltError
from sources.common.redaction import redact

DATA_DIR_LOCK = "marketing-elt.lock"
WAREHOUSE_LOCK_SUFFIX = ".marketing-elt.lock"


class LockHeld(MarketingEltError):
    """Another run holds a lock we need: refused before anything happened (exit 2)."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started_at: str
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started_at}, running `{self.command}`"

    @classmethod
    def current(cls, command: str) -> Holder:
        return cls(os.getpid(), socket.gethostname(), clock.now().isoformat(), redact(command))

    @classmethod
    def read(cls, handle: IO[str]) -> Holder | None:
        """The holder recorded in the lock file, or None when empty or being written."""
        handle.seek(0)
        try:
            data = json.loads(handle.read() or "null")
            return cls(int(data["pid"]), str(data["host"]), str(data["started_at"]), str(data["command"]))
        except (ValueError, TypeError, KeyError):
            return None


def lock_paths(data_dir: Path, duckdb_file: Path | None) -> list[tuple[Path, str]]:
    """(lock file, what it protects): the data dir always, the DuckDB file when that is the destination."""
    paths = [(data_dir / DATA_DIR_LOCK, f"the dlt data dir {data_dir}")]
    if duckdb_file is not None:
        paths.append((duckdb_file.with_name(duckdb_file.name + WAREHOUSE_LOCK_SUFFIX), f"the warehouse {duckdb_file}"))
    return paths


@contextmanager
def run_lock(data_dir: Path, duckdb_file: Path | None, command: str) -> Iterator[list[str]]:
    """Hold every lock of this run for the block; yields notes about locks taken over from dead runs.

    Raises LockHeld at once (no waiting) when another live run holds one.
    """
    me = Holder.current(command)
    left_by: dict[Holder, list[str]] = {}
    data_dir.mkdir(parents=True, exist_ok=True)  # the warehouse's directory must exist already (preflight)
    with ExitStack() as stack:
        for path, what in lock_paths(data_dir, duckdb_file):
            previous = stack.enter_context(_locked(path, what, me))
            if previous is not None and previous.pid != me.pid:
                left_by.setdefault(previous, []).append(what)
        yield [
            f"took over the lock on {' and '.join(whats)} left by a run that ended without releasing it "
            f"({holder.describe()})."
            for holder, whats in left_by.items()
        ]


@contextmanager
def _locked(path: Path, what: str, me: Holder) -> Iterator[Holder | None]:
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 -- closed below, after the unlock
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the lock file {path} for {what} ({exc.strerror}): check its directory."
        ) from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = Holder.read(handle)
            who = holder.describe() if holder else "details not written yet"
            raise LockHeld(
                f"Another marketing-elt run holds the lock on {what} ({who}): wait for it to finish; "
                f"runs are never queued. If that process is gone, run again (its lock is released with it)."
            ) from None
        previous = Holder.read(handle)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(me)))
        handle.flush()
        try:
            yield previous
        finally:
            handle.seek(0)
            handle.truncate()  # a clean release leaves no holder behind
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
