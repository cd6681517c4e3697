"""Ctrl-C during a DuckDB query on the main thread reaches us as DuckDB's RuntimeError, not a KeyboardInterrupt.

CI once saw `error: attributionhub failed: RuntimeError: Query interrupted` and exit 1 where a Ctrl-C must give
exit 130: the SIGINT landed while the main thread ran attributionhub's warehouse step.
"""

from __future__ import annotations

import os
import signal
import threading

import duckdb
import pytest
from dlt.common.exceptions import TerminalException

from pipelines.failures import find_interrupt


def interrupted_query() -> BaseException:
    """A real SIGINT delivered while a real DuckDB query runs on this (the main) thread.

    One DuckDB thread: the main thread then runs every task and checks for signals between them (with workers it
    may wait out the whole query). A signal every 0.2 s until the query gives up.
    """
    connection = duckdb.connect(config={"threads": 1})
    stop = threading.Event()

    def keep_interrupting() -> None:
        while not stop.wait(0.2):
            os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=keep_interrupting, daemon=True)
    caught: BaseException | None = None
    try:
        sender.start()
        try:
            connection.execute("SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3").fetchall()
        except BaseException as exc:  # whatever DuckDB raises is what the test looks at
            caught = exc
        finally:
            stop.set()
            sender.join()
    except KeyboardInterrupt:  # a signal that arrived as the query ended, not the one under test
        pass
    connection.close()
    assert caught is not None, "the query finished before a signal arrived"
    return caught


pytestmark = pytest.mark.timeout(60)


def test_duckdb_turns_ctrl_c_into_an_error_and_we_recognise_it() -> None:
    caught = interrupted_query()
    assert not isinstance(caught, KeyboardInterrupt)  # DuckDB's behaviour, the reason find_interrupt exists
    assert isinstance(find_interrupt(caught), KeyboardInterrupt)


def test_an_interrupted_query_under_a_wrapper_is_still_ctrl_c() -> None:
    caught = interrupted_query()
    wrapped = TerminalException("load failed")  # how dlt's load step re-raises a job's error
    wrapped.__cause__ = caught
    assert isinstance(find_interrupt(wrapped), KeyboardInterrupt)


def test_other_failures_are_not_interrupts() -> None:
    assert find_interrupt(RuntimeError("Query interrupted because the disk is full")) is None
    assert find_interrupt(duckdb.IOException("Query interrupted")) is None
    assert find_interrupt(ValueError("x")) is None
    assert find_interrupt(None) is None
