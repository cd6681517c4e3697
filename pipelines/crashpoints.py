"""Deterministic crash points, so the operator tests can kill a run inside a given stage (no sleep-and-hope).

Test-only: set `MARKETING_ELT_TEST_CRASH_AT=<source>:<stage>[:<signal>]` and the run sends itself the signal
(default KILL; INT is a Ctrl-C, STOP freezes the run while it holds its locks) at that point of that
source's `pipeline.run`:
- `extract`: after the first item left a resource (the extract is half done, nothing committed);
- `normalize`: after the normalizer wrote its files, before the package is committed;
- `load`: after the first load jobs completed, before the package is marked loaded in `_dlt_loads`.
Unset (always, outside tests), nothing is installed.
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
def armed(source: DltSource, name: str) -> Iterator[None]:
    """Install the crash point asked for `name` around one `pipeline.run` of `source`."""
    wanted = target(name)
    if wanted is None:
        yield
        return
    stage, sig = wanted
    fire = _once(sig)
    with ExitStack() as stack:
        if stage == "extract":
            for resource in source.resources.values():
                resource.add_map(lambda item: (fire(), item)[1])
        elif stage == "normalize":
            stack.enter_context(_wrap(Normalize, "spool_files", _after_map(fire)))
        else:
            stack.enter_context(_wrap(Load, "complete_jobs", _after_finalized(fire)))
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
def _wrap(owner: type, attr: str, wrapper: Callable[..., Any]) -> Iterator[None]:
    original = getattr(owner, attr)

    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrapper(original, self, *args, **kwargs)

    setattr(owner, attr, patched)
    try:
        yield
    finally:
        setattr(owner, attr, original)
