"""Deterministic crash points, so the operator tests can kill a run inside a given stage (no sleep-and-hope).

Test-only: set `MARKETING_ELT_TEST_CRASH_AT=<source>:<stage>[:<signal>]` and the run sends itself the signal
(default KILL; INT is a Ctrl-C, STOP freezes the run while it holds its locks) at that point of that
source's `pipeline.run`:
- `extract`: after the first item left a resource (the extract is half done, nothing committed);
- `normalize`: after the normalizer wrote its files, before the package is committed;
- `load`: after the first load jobs completed, before the package is marked loaded in `_dlt_loads`.
Unset (always, outside tests), nothing is installed. Sources extract side by side (pipelines/runner.py): the
extract point is a step of that source's own resources, and the normalize and load points (patches of dlt's
classes) fire only inside that source's `counting_for` context, never in another source's normalize or load.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from dlt.extract import DltSource
from dlt.load.load import Load
from dlt.normalize.normalize import Normalize

from sources.common.stats import current_source

ENV = "MARKETING_ELT_TEST_CRASH_AT"
STAGES = ("extract", "normalize", "load")


def target(source: str) -> tuple[str, signal.Signals] | None:
    """(stage, signal) when the env var asks to crash `source`, else None."""
    spec = os.environ.get(ENV, "")
    parts = spec.split(":")
    if len(parts) < 2 or parts[0] != source or parts[1] not in STAGES:
        return None
    return parts[1], signal.Signals[f"SIG{parts[2] if len(parts) > 2 else 'KILL'}"]


@contextmanager
def armed_extract(source: DltSource, name: str) -> Iterator[None]:
    """Install the extract crash point asked for `name` on the resources of `source`."""
    wanted = target(name)
    if wanted is not None and wanted[0] == "extract":
        fire = _once(wanted[1])
        for resource in source.resources.values():
            resource.add_map(lambda item: (fire(), item)[1])
    yield


@contextmanager
def armed_load(name: str) -> Iterator[None]:
    """Install the normalize or load crash point asked for `name` around that source's normalize and load."""
    wanted = target(name)
    if wanted is None or wanted[0] == "extract":
        yield
        return
    stage, sig = wanted
    fire = _once(sig)
    with ExitStack() as stack:
        if stage == "normalize":
            stack.enter_context(_wrap(Normalize, "spool_files", _after_map(fire), name))
        else:
            stack.enter_context(_wrap(Load, "complete_jobs", _after_finalized(fire), name))
        yield


def _once(sig: signal.Signals) -> Callable[[], None]:
    fired: list[bool] = []

    def fire() -> None:
        if not fired:
            fired.append(True)
            os.kill(os.getpid(), sig)

    return fire


def _after_map(fire: Callable[[], None]) -> Callable[..., Any]:
    def wrapper(original: Callable[..., Any], self: Any, load_id: str, schema: Any, map_f: Any, files: Any) -> Any:
        def map_then_fire(*args: Any) -> Any:
            result = map_f(*args)
            fire()
            return result

        return original(self, load_id, schema, map_then_fire, files)

    return wrapper


def _after_finalized(fire: Callable[[], None]) -> Callable[..., Any]:
    def wrapper(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if result[1]:  # (remaining, finalized, exception): some jobs are committed, the package is not
            fire()
        return result

    return wrapper


@contextmanager
def _wrap(owner: type, attr: str, wrapper: Callable[..., Any], name: str) -> Iterator[None]:
    """Patch `owner.attr` for the block; the patch acts only in the work of source `name`."""
    original = getattr(owner, attr)

    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_source() != name:
            return original(self, *args, **kwargs)
        return wrapper(original, self, *args, **kwargs)

    setattr(owner, attr, patched)
    try:
        yield
    finally:
        setattr(owner, attr, original)
