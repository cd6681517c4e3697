"""One clear line per failure: dlt's wrappers are unwrapped to the real cause, shown whole or cut at a word."""

from __future__ import annotations

from types import SimpleNamespace

from dlt.destinations.exceptions import DestinationConnectionError
from dlt.pipeline.exceptions import PipelineStepFailed
from hypothesis import given
from hypothesis import strategies as st

from pipelines.failures import describe_failure, one_line

DUCKDB_LOCK = (
    'IO Error: Could not set lock on file "/srv/warehouse.duckdb": Conflicting lock is held in /usr/bin/metabase '
    "(PID 4242). See also https://duckdb.org/docs/current/connect/concurrency"
)


def wrapped(inner: Exception) -> Exception:
    """What dlt raises when a connection fails during a step: PipelineStepFailed(DestinationConnectionError(x))."""
    connection = DestinationConnectionError("DuckDbSqlClient", "marketing", str(inner), inner)
    try:
        raise PipelineStepFailed(
            SimpleNamespace(has_pending_data=False, pipeline_name="marketing_elt_x"), "sync", None, connection, None
        )  # type: ignore[arg-type]
    except PipelineStepFailed as exc:
        return exc


def test_a_locked_duckdb_file_is_named_with_its_holder_not_the_credentials_text() -> None:
    message = describe_failure("hubspot_leads", wrapped(OSError(DUCKDB_LOCK)))
    assert message == (
        "hubspot_leads: The warehouse file /srv/warehouse.duckdb is open in another process (/usr/bin/metabase, "
        "PID 4242), and DuckDB lets only one process open a file while it may write: close that program (BI tools "
        "should read a copy: README, Operations) and run again."
    )


def test_other_causes_are_the_innermost_error_whole() -> None:
    cause = "Permission denied: '/srv/warehouse.duckdb.wal' could not be opened for writing by user etl"
    message = describe_failure("hubspot_analytics", wrapped(PermissionError(cause)))
    assert message == (
        f"hubspot_analytics failed during sync: PermissionError: {cause} "
        "(rerun with --log-level DEBUG for the traceback)."
    )
    assert "check if you configured the credentials" not in message


@given(st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=12), min_size=1, max_size=80))
def test_one_line_never_cuts_a_word(words: list[str]) -> None:
    text = " ".join(words)
    line = one_line(text, 60)
    assert "\n" not in line
    if line == text:
        return
    assert line.endswith(" …")
    kept = line.removesuffix(" …").split(" ")
    assert kept == words[: len(kept)]  # whole words only, in order
