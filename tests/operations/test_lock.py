"""One run at a time (issue 14): a second run is refused at once naming the holder; a dead holder's lock is
taken over; a warehouse file another program holds fails before any vendor request with the real cause."""

from __future__ import annotations

import os
import socket
import subprocess

import duckdb
import pytest

from .conftest import HUBSPOT, NIGHT, Project

SMALL = pytest.mark.sandbox_config(leads_per_day=3)
# Sources one after another (`parallel_sources = false`), so "hubspot_analytics has loaded when hubspot_leads
# extracts" holds; side by side, the same scenarios are tests/operations/test_parallel_sources.py.
ONE_AFTER_ANOTHER = {"MARKETING_ELT__PARALLEL_SOURCES": "false"}


def stopped_run(project: Project, *args: str) -> subprocess.Popen[str]:
    """A run frozen (SIGSTOP) in the middle of extracting hubspot_leads, holding its locks."""
    proc = project.start(*args, crash="hubspot_leads:extract:STOP", env=ONE_AFTER_ANOTHER)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), status
    return proc


def kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()  # SIGKILL ends a stopped process too
    proc.wait(timeout=30)
    proc.communicate()


@SMALL
def test_a_second_run_is_refused_naming_the_holder_and_a_dead_holders_lock_is_taken_over(project, new_project) -> None:
    holder = stopped_run(project, "run", "--sources", HUBSPOT)
    try:
        requests = len(project.sandbox.request_log)
        second = project.run("backfill", "--start", "2026-11-01", "--end", "2026-11-02", "--sources", HUBSPOT)
        assert second.code == 2
        who = f"pid {holder.pid} on {socket.gethostname()}, started {NIGHT.isoformat()}"
        assert second.errors == [
            f"error: Another marketing-elt run holds the lock on the dlt data dir {project.data_dir} ({who}, "
            f"running `marketing-elt run --sources {HUBSPOT}`): wait for it to finish; runs are never queued. If that "
            "process is gone, run again (its lock is released with it)."
        ], second.err
        assert len(project.sandbox.request_log) == requests  # refused before any vendor request

        # Another data dir on the same DuckDB file is refused too, by the warehouse's lock.
        other = new_project("other")
        other.env["DESTINATION__DUCKDB__CREDENTIALS"] = str(project.warehouse)
        third = other.run("run", "--sources", HUBSPOT)
        assert third.code == 2
        assert third.errors[0].startswith(
            f"error: Another marketing-elt run holds the lock on the warehouse {project.warehouse}"
        )
        assert f"(pid {holder.pid} " in third.errors[0]

        # status reads while the run holds its locks
        status = project.run("status", "--sources", "hubspot_analytics")
        assert status.code == 0, status.err
        assert "hubspot_analytics_totals  date    2026-11-19" in status.out
    finally:
        kill(holder)

    after = project.run("run", "--sources", HUBSPOT)
    assert after.code == 0, after.err
    assert after.notes[0] == (
        f"note: took over the lock on the dlt data dir {project.data_dir} and the warehouse {project.warehouse} "
        f"left by a run that ended without releasing it (pid {holder.pid} on {socket.gethostname()}, started "
        f"{NIGHT.isoformat()}, running `marketing-elt run --sources {HUBSPOT}`)."
    )
    assert project.count("hubspot_leads") > 0


@SMALL
@pytest.mark.parametrize("read_only", [True, False], ids=["bi-reader", "writer"])
def test_a_warehouse_file_held_by_another_program_fails_before_any_request(project, read_only) -> None:
    duckdb.connect(str(project.warehouse)).close()  # a warehouse file exists
    with duckdb.connect(str(project.warehouse), read_only=read_only):  # a BI tool with the file open
        result = project.run("run", "--sources", HUBSPOT)
        status = project.run("status")

    assert result.code == 2
    assert result.errors == [
        f"error: The warehouse file {project.warehouse} is open in another process ({_program()}, PID {os.getpid()}), "
        "and DuckDB lets only one process open a file while it may write: close that program (BI tools should read "
        "a copy: README, Operations) and run again."
    ], result.err
    assert "Traceback" not in result.err and "check your credentials" not in result.err
    assert project.sandbox.request_log == []
    if read_only:  # readers share the file: status reads beside a BI tool
        assert status.code == 0, status.err
        return
    assert status.code == 3  # a writer holds it: one line, no traceback
    assert status.out == "" and len(status.err.strip().splitlines()) == 1, status.err
    assert status.err.startswith(f"error: The warehouse file {project.warehouse} is being written by another process")


def _program() -> str:
    """The program DuckDB names as the holder: this test's interpreter, as the kernel reports it."""
    return os.path.realpath(f"/proc/{os.getpid()}/exe")


@SMALL
def test_ctrl_c_stops_the_whole_run_keeps_what_loaded_and_exits_130(project) -> None:
    """SIGINT while hubspot_leads extracts, sources one after another: hubspot_analytics (before it) stays
    loaded, nothing after it starts."""
    interrupted = project.run(
        "run", "--sources", "hubspot_analytics,hubspot_leads", crash="hubspot_leads:extract:INT", env=ONE_AFTER_ANOTHER
    )

    assert interrupted.code == 130, interrupted.err
    assert "Traceback" not in interrupted.err
    assert interrupted.errors == [
        "error: hubspot_leads: interrupted (Ctrl-C); what was loaded before stays, no further source was started, "
        "and the next run finishes or redoes the rest."
    ]
    assert "hubspot_leads: INTERRUPTED" in interrupted.out
    assert project.count("hubspot_analytics_totals") == 10
    assert [(row["source"], row["outcome"]) for row in project.ledger()] == [
        ("hubspot_analytics", "ok"),
        ("hubspot_leads", "interrupted"),
    ]

    project.sandbox.reset_stats()
    first = project.run(
        "run", "--sources", "hubspot_leads,hubspot_analytics", crash="hubspot_leads:extract:INT", env=ONE_AFTER_ANOTHER
    )
    assert first.code == 130
    assert project.vendor_requests("hubspot_analytics") == []  # no further source started
    assert project.run("run", "--sources", HUBSPOT).code == 0
    assert project.count("hubspot_leads") > 0
