"""Unfinished work is finished, then the requested work is done (issue 14).

A nightly is SIGKILLed inside extract, normalize or load of hubspot_leads (pipelines/crashpoints.py picks
the moment; hubspot_analytics had loaded), then followed by `run` or by `backfill`: the follow-up first
completes the pending package and says so, then does what was asked (its vendor requests are in the
ledger), and the warehouse ends equal to clean runs'.

The six scenarios and the clean references are independent projects on one sandbox; the module fixture
runs them two at a time (each is a chain of real CLI processes) and each test checks its scenario.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sandbox.core import SandboxConfig
from sandbox.server import SandboxServer
from tests.conftest import SANDBOX_SEED, SANDBOX_TODAY

from .conftest import HUBSPOT, Result, make_project

BACKFILL = ("backfill", "--start", "2026-11-01", "--end", "2026-11-05", "--sources", HUBSPOT)
NIGHTLY = ("run", "--sources", HUBSPOT)
STAGES = ["extract", "normalize", "load"]
PENDING_FOLDER = {"normalize": "normalize/extracted", "load": "load/normalized"}


@dataclass
class Scenario:
    """What a chain of invocations left behind, gathered for the assertions."""

    killed: Result | None = None
    pending: dict[str, int] = field(default_factory=dict)  # packages pending per folder after the kill
    steps: list[Result] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    first_days: list[str] = field(default_factory=list)  # the first analytics day after each step
    ledger: list[dict[str, Any]] = field(default_factory=list)


def clean(root: Path, sandbox: SandboxServer) -> Scenario:
    project, out = make_project(root / "clean", sandbox), Scenario()
    for args in (NIGHTLY, BACKFILL):
        out.steps.append(project.run(*args))
        out.snapshots.append(project.snapshot())
    return out


def killed_then(root: Path, sandbox: SandboxServer, stage: str, follow_up: str) -> Scenario:
    project, out = make_project(root / f"{follow_up}-{stage}", sandbox), Scenario()
    out.killed = project.run(*NIGHTLY, crash=f"hubspot_leads:{stage}")
    leads = project.data_dir / "pipelines" / "marketing_elt_hubspot_leads"
    for where, folder in PENDING_FOLDER.items():
        path = leads / folder
        out.pending[where] = len([p for p in path.iterdir() if p.is_dir()]) if path.is_dir() else 0
    for args in (NIGHTLY,) if follow_up == "run" else (BACKFILL, NIGHTLY):
        out.steps.append(project.run(*args))
        out.snapshots.append(project.snapshot())
        out.first_days.append(str(project.query("SELECT MIN(date) FROM marketing.hubspot_analytics_totals")[0][0]))
    out.ledger = project.ledger()
    return out


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Any, Scenario]]:
    config = SandboxConfig(today=SANDBOX_TODAY, seed=SANDBOX_SEED, leads_per_day=3)
    with SandboxServer(config) as server, ThreadPoolExecutor(max_workers=2) as pool:
        root = tmp_path_factory.mktemp("crash")
        jobs = {"clean": pool.submit(clean, root, server)}
        for stage in STAGES:
            for follow_up in ("run", "backfill"):
                jobs[(stage, follow_up)] = pool.submit(killed_then, root, server, stage, follow_up)
        yield {key: job.result() for key, job in jobs.items()}


def check_the_kill(scenario: Scenario, stage: str) -> None:
    assert scenario.killed is not None and scenario.killed.code == -signal.SIGKILL, scenario.killed
    # the kill landed where it was asked: one package pending in that stage's folder, none elsewhere
    assert scenario.pending == {where: int(where == stage) for where in PENDING_FOLDER}


def finished_pending(result: Result) -> bool:
    return any("hubspot_leads: first finished the load package" in note for note in result.notes)


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_then_run_equals_a_clean_run(outcomes, stage) -> None:
    scenario, reference = outcomes[(stage, "run")], outcomes["clean"]
    check_the_kill(scenario, stage)
    (again,) = scenario.steps
    assert again.code == 0, again.err
    assert finished_pending(again) == (stage != "extract"), again.out
    assert scenario.snapshots[0] == reference.snapshots[0]


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_then_backfill_finishes_the_package_and_does_the_backfill(outcomes, stage) -> None:
    """The reported case: after a kill during load, `backfill` ended "ok" with zero vendor requests."""
    scenario, reference = outcomes[(stage, "backfill")], outcomes["clean"]
    check_the_kill(scenario, stage)
    backfill, nightly = scenario.steps
    assert backfill.code == 0, backfill.err
    assert finished_pending(backfill) == (stage != "extract"), backfill.out
    (row,) = [r for r in scenario.ledger if r["kind"] == "backfill" and r["source"] == "hubspot_leads"]
    assert row["outcome"] == "ok" and row["requests"] > 0  # the backfill itself was requested
    assert json.loads(row["rows"])["hubspot_leads"] > 0
    assert scenario.first_days[0] == "2026-11-01"
    assert nightly.code == 0, nightly.err
    assert scenario.snapshots[1] == reference.snapshots[1]
