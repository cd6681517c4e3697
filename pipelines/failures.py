"""Turn any failure into one sentence a user can act on: ours pass through, dlt's are unwrapped to the cause.

dlt wraps the real cause several times (PipelineStepFailed, ResourceExtractionError, DestinationConnectionError
with a generic "check your credentials" preamble); an operator needs the innermost reason, whole, and what to do.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigurationException,
    ConfigValueCannotBeCoercedException,
)
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.common.errors import MarketingEltError
from sources.common.redaction import redact

from .registry import SourceSpec

ONE_LINE_MAX = 400
DUCKDB_INTERRUPTED = "Query interrupted"
DEBUG_HINT = "rerun with --log-level DEBUG for the traceback"
# DuckDB: 'IO Error: Could not set lock on file "/x.duckdb": Conflicting lock is held in /usr/bin/x (PID 12)'
_DUCKDB_LOCK = re.compile(r'Could not set lock on file "([^"]+)": Conflicting lock is held in (.+?) \(PID (\d+)\)')


class MarketingEltBug(Exception):
    """An unexpected exception (a bug, not bad input): exit 1, traceback at DEBUG."""


def find_cause(exc: BaseException | None, kind: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
    """Walk dlt's wrappers (PipelineStepFailed, ResourceExtractionError, ...) down to an exception of `kind`."""
    return next((e for e in chain(exc) if isinstance(e, kind)), None)


def find_interrupt(exc: BaseException | None) -> KeyboardInterrupt | None:
    """The Ctrl-C behind a failure, if one is: DuckDB swallows a KeyboardInterrupt raised while a query runs on
    the main thread and raises `RuntimeError("Query interrupted")` (or its InterruptException) in its place."""
    for error in chain(exc):
        if isinstance(error, KeyboardInterrupt):
            return error
        if isinstance(error, duckdb.InterruptException) or (
            type(error) is RuntimeError and str(error) == DUCKDB_INTERRUPTED
        ):
            return KeyboardInterrupt()
    return None


def innermost(exc: BaseException) -> BaseException:
    """The deepest cause in the chain: the error that actually happened."""
    return chain(exc)[-1]


def one_line(text: str, limit: int = ONE_LINE_MAX) -> str:
    """`text` on one line, redacted; if longer than `limit`, cut at a word boundary and marked, never mid-word."""
    flat = " ".join(redact(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut} …"


def duckdb_lock_holder(exc: BaseException | str) -> tuple[str, str, str] | None:
    """(file, program, pid) when DuckDB refused to open a file another process holds, else None."""
    texts = [exc] if isinstance(exc, str) else [str(e) for e in chain(exc)]
    for text in texts:
        match = _DUCKDB_LOCK.search(text)
        if match:
            return match.group(1), match.group(2), match.group(3)
    return None


def warehouse_busy_message(path: str, program: str, pid: str) -> str:
    return (
        f"The warehouse file {path} is open in another process ({program}, PID {pid}), and DuckDB lets only one "
        "process open a file while it may write: close that program (BI tools should read a copy: README, "
        "Operations) and run again."
    )


def describe_failure(source: str, exc: BaseException) -> str:
    """Our own errors already read as one sentence; anything else becomes the innermost cause, whole, on one line."""
    ours = find_cause(exc, MarketingEltError)
    if ours is not None:
        return f"{source}: {ours}"
    holder = duckdb_lock_holder(exc)
    if holder is not None:
        return f"{source}: {warehouse_busy_message(*holder)}"
    root = innermost(exc)
    step = f" during {exc.step}" if isinstance(exc, PipelineStepFailed) else ""
    text = str(root).strip() or type(root).__name__
    return f"{source} failed{step}: {type(root).__name__}: {one_line(text)} ({DEBUG_HINT})."


def describe_config_exception(spec: SourceSpec, exc: ConfigurationException) -> str:
    """dlt's configuration errors, named by the env var and TOML key a user sets."""
    where = f"[sources.{spec.section}]"
    if isinstance(exc, ConfigValueCannotBeCoercedException):
        key = exc.field_name
        return f"{spec.name}: {spec.env_var(key)} (or {where} {key}) {_expected(exc.hint, exc.field_value)}"
    if isinstance(exc, ConfigFieldMissingException):
        keys = ", ".join(f"{spec.env_var(key)} (or {where} {key})" for key in exc.fields)
        return f"{spec.name}: missing configuration: set {keys}."
    return f"{spec.name} could not be configured: {one_line(str(exc))}"


def _expected(hint: Any, value: Any) -> str:
    shown = one_line(repr(value), 60)
    if hint is bool:
        return f"takes true or false, not {shown}."
    if hint is int:
        return f"takes a whole number, not {shown}."
    if hint is float:
        return f"takes a number, not {shown}."
    origin = getattr(hint, "__origin__", None)
    if origin in (list, tuple) or "Sequence" in str(hint) or "List" in str(hint):
        return f'takes a JSON list, e.g. \'["totals", "sources"]\', not {shown}.'
    return f"has a value of the wrong type ({shown})."


def chain(exc: BaseException | None) -> list[BaseException]:
    """`exc` and its causes, outermost first (dlt keeps them in `.exception` / `.inner_exc`, Python in `__cause__`)."""
    out: list[BaseException] = []
    seen: set[int] = set()
    current: Any = exc
    while isinstance(current, BaseException) and id(current) not in seen:
        seen.add(id(current))
        out.append(current)
        current = (
            getattr(current, "exception", None)
            or getattr(current, "inner_exc", None)
            or current.__cause__
            or current.__context__
        )
    return out
