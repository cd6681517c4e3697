"""Sources extracted side by side (issue 19, `parallel_sources`, the default) keep every promise of a run.

Each scenario runs the real CLI in subprocesses against the kind sandbox (the same answers whatever the order
of requests, so two runs can be compared row for row):
- side by side loads the same warehouse as one after another, and each source's ledger row counts exactly the
  requests the sandbox served for it (both HubSpot sources share one vendor and one rate limiter);
- Ctrl-C stops every source still at work, exit 130, and the next run completes it to a clean run's warehouse;
- a crash point kills in the named stage of the named source only, while the others extract beside it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sandbox.core import SandboxConfig
from sandbox.server import SandboxServer
from tests.conftest import SANDBOX_SEED, SANDBOX_TODAY

from .conftest import PER_LOAD_COLUMNS, Project, Result, make_project

ALL = ("hubspot_analytics", "hubspot_leads", "attributionhub", "humblytics")
RUN = ("run", "--sources", ",".join(ALL))
ONE_AFTER_ANOTHER = {"MARKETING_ELT__PARALLEL_SOURCES": "false"}
PER_RUN = PER_LOAD_COLUMNS | {"_dlt_parent_id", "_dlt_root_id"}


@dataclass
class Reference:
    """One run of every source one after another, on the module's kind sandbox (answers do not depend on
    when in the run a request is made, so every scenario can be compared with it row for row)."""

    sandbox: SandboxServer
    project: Project
    run: Result
    served: dict[str, int]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    config = SandboxConfig(today=SANDBOX_TODAY, seed=SANDBOX_SEED, leads_per_day=3)
    with SandboxServer(config) as server:
        project = make_project(tmp_path_factory.mktemp("parallel") / "one_after_another", server)
        run = project.run(*RUN, env=ONE_AFTER_ANOTHER)
        yield Reference(server, project, run, dict(server.stats()["by_vendor"]))


@pytest.fixture
def project(reference: Reference, tmp_path: Any) -> Project:
    return make_project(tmp_path / "project", reference.sandbox)


def data_tables(project: Project) -> tuple[str, ...]:
    rows = project.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name NOT LIKE '\\_%' "
        "ESCAPE '\\' ORDER BY table_name",
        project.dataset,
    )
    return tuple(str(row[0]) for row in rows)


def everything(project: Project) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table's rows without dlt's ids and load stamps (a child row's parent id is random)."""
    out = {}
    for table in data_tables(project):
        described = project.query(f"DESCRIBE {project.dataset}.{table}")
        columns = sorted(str(row[0]) for row in described if row[0] not in PER_RUN)
        rows = project.query(f"SELECT {', '.join(columns)} FROM {project.dataset}.{table}")
        out[table] = sorted(rows, key=repr)
    return out


def ledger_requests(project: Project) -> dict[str, int]:
    return {row["source"]: int(row["requests"]) for row in project.ledger()}


def outcome_lines(out: str) -> list[str]:
    """The per-source outcome lines of the run summary, in the order printed."""
    return [line.split(":")[0] for line in out.splitlines() if line.split(":")[0] in ALL and " in " in line]


def test_side_by_side_loads_what_one_after_another_loads_and_counts_each_sources_requests(project, reference) -> None:
    assert reference.run.code == 0, reference.run.err
    reference.sandbox.reset_stats()
    side_by_side = project.run(*RUN)
    assert side_by_side.code == 0, side_by_side.err
    served = reference.sandbox.stats()["by_vendor"]

    assert len(data_tables(project)) >= 10
    assert everything(project) == everything(reference.project)
    # Exact per source although both HubSpot sources count under vendor "hubspot" and ran at the same time.
    assert ledger_requests(project) == {source: served[source] for source in ALL}
    assert ledger_requests(reference.project) == {source: reference.served[source] for source in ALL}
    assert outcome_lines(side_by_side.out) == list(ALL)  # the configured order, whatever finished first
    assert outcome_lines(reference.run.out) == list(ALL)


def test_ctrl_c_side_by_side_stops_every_source_and_the_next_run_completes(project, reference) -> None:
    """SIGINT in hubspot_leads' extract: every source not loaded yet is interrupted (none is left running),
    exit 130; the next run loads what is missing and equals a clean run."""
    interrupted = project.run(*RUN, crash="hubspot_leads:extract:INT")

    assert interrupted.code == 130, interrupted.err
    assert "Traceback" not in interrupted.err
    ledger = {row["source"]: row["outcome"] for row in project.ledger()}
    assert ledger["hubspot_leads"] == "interrupted"
    assert set(ledger.values()) <= {"ok", "interrupted"}
    stopped = [source for source in ALL if ledger.get(source) == "interrupted"]
    assert interrupted.errors == [
        f"error: {source}: interrupted (Ctrl-C); what was loaded before stays, no further source was started, "
        "and the next run finishes or redoes the rest."
        for source in stopped
    ]
    assert outcome_lines(interrupted.out) == [source for source in ALL if source in ledger]

    again = project.run(*RUN)
    assert again.code == 0, again.err
    assert everything(project) == everything(reference.project)


def test_a_crash_point_kills_in_its_own_sources_load_only(project) -> None:
    """Loads are one at a time on the runner's thread: killed in humblytics' load, humblytics holds the one
    normalized package waiting to load; no other source was caught inside its load."""
    killed = project.run(*RUN, crash="humblytics:load")
    assert killed.code == -signal.SIGKILL, killed.err

    def normalized(source: str) -> int:
        folder = project.data_dir / "pipelines" / f"marketing_elt_{source}" / "load" / "normalized"
        return len([p for p in folder.iterdir() if p.is_dir()]) if folder.is_dir() else 0

    assert {source: normalized(source) for source in ALL} == {source: int(source == "humblytics") for source in ALL}
    again = project.run(*RUN)
    assert again.code == 0, again.err
    assert any("humblytics: first finished the load package" in note for note in again.notes), again.out
