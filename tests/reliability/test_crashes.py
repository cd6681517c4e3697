"""Fault scenario 2 of issue 18: a nightly SIGKILLed in extract, normalize or load of each source, then `run`.

Each scenario: on its own hard sandbox (clock standing still at 02:00, so the world the two runs see is
one world), a nightly of all four sources runs as a real `marketing-elt` process and kills itself
(pipelines/crashpoints.py, `MARKETING_ELT_TEST_CRASH_AT=<source>:<stage>`) inside that stage of that source.
Expected outcome: the kill landed in that stage (the source's pending package is where the stage leaves it);
no state claims data the warehouse lacks (tests/reliability/claims.py: the warehouse's stored cursors are
reached by completed loads, DLT_DATA_DIR's by completed loads or the pending package the next run finishes);
the next `run` exits 0, first finishes the pending package (normalize, load) and leaves a warehouse equal, row
for row, to one clean run's (harness.assert_same_warehouse), with every cursor backed by the data.

The scenarios are independent: the module fixture runs the selected ones two at a time (each is a chain of
real processes) next to the shared clean reference. The default suite keeps one stage per source, the
stages rotating across sources; the other eight are `slow` (`make test-all`).
"""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.reliability.claims import ahead_of_the_data, claims
from tests.reliability.harness import (
    FIRST_NIGHT,
    Night,
    RunResult,
    Table,
    Warehouse,
    World,
    assert_same_warehouse,
    clean_reference,
    night_of,
)
from tests.reliability.processes import run_process

SOURCES = ("hubspot_analytics", "hubspot_leads", "attributionhub", "humblytics")
STAGES = ("extract", "normalize", "load")
WORLD = World.hard()
NIGHT = Night(FIRST_NIGHT, frozen=True)
FIRST_DAY = "2026-11-18"  # two complete days per source keep each process short
SETTINGS = {
    "SOURCES__HUBSPOT__START_DATE": FIRST_DAY,
    "SOURCES__ATTRIBUTIONHUB__START_DATE": FIRST_DAY,
    "SOURCES__HUMBLYTICS__START_DATE": FIRST_DAY,
    "SOURCES__HUBSPOT__REPORTS": '["totals", "sources"]',
}
NIGHTLY = ("run", "--sources", ",".join(SOURCES))
# Where a killed stage leaves the source's package: none after extract (nothing committed).
PENDING_FOLDERS = {"normalize": "normalize/extracted", "load": "load/normalized"}
DEFAULT = {(source, STAGES[i % len(STAGES)]) for i, source in enumerate(SOURCES)}
SCENARIOS = [
    pytest.param(source, stage, id=f"{source}-{stage}", marks=() if (source, stage) in DEFAULT else pytest.mark.slow)
    for source in SOURCES
    for stage in STAGES
]

pytestmark = pytest.mark.timeout(900)


@dataclass
class Outcome:
    """What one scenario left behind, gathered for the assertions."""

    warehouse: Warehouse
    killed: RunResult
    pending: dict[str, int]  # the killed source's packages per stage folder, right after the kill
    ahead_after_kill: list[str]
    again: RunResult
    pending_after: dict[str, int]
    ahead_after_run: list[str]
    tables: dict[str, Table]


def pending_packages(warehouse: Warehouse, source: str) -> dict[str, int]:
    root = warehouse.data_dir / "pipelines" / f"marketing_elt_{source}"
    return {
        stage: len([p for p in (root / folder).iterdir() if p.is_dir()]) if (root / folder).is_dir() else 0
        for stage, folder in PENDING_FOLDERS.items()
    }


def killed_then_run(root: Path, source: str, stage: str) -> Outcome:
    sandbox = WORLD.start()
    try:
        warehouse = Warehouse(root / f"{source}-{stage}")
        NIGHT.prepare(sandbox, WORLD)
        killed = run_process(
            warehouse, sandbox, night_of(NIGHT.day), *NIGHTLY, settings=SETTINGS, crash=f"{source}:{stage}"
        )
        pending = pending_packages(warehouse, source)
        ahead_after_kill = ahead_of_the_data(warehouse.db, warehouse.data_dir, SOURCES)
        NIGHT.prepare(sandbox, WORLD)  # the operator runs the same night again
        again = run_process(warehouse, sandbox, night_of(NIGHT.day), *NIGHTLY, settings=SETTINGS)
        return Outcome(
            warehouse,
            killed,
            pending,
            ahead_after_kill,
            again,
            pending_packages(warehouse, source),
            ahead_of_the_data(warehouse.db, warehouse.data_dir, SOURCES),
            warehouse.tables(),
        )
    finally:
        sandbox.stop()


def selected(session: pytest.Session) -> list[tuple[str, str]]:
    """The scenarios this session runs (the `slow` ones only with `-m slow` or `make test-all`)."""
    module = sys.modules[__name__]
    return [
        (item.callspec.params["source"], item.callspec.params["stage"])
        for item in session.items
        if getattr(item, "module", None) is module and "stage" in getattr(getattr(item, "callspec", None), "params", {})
    ]


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, reference_root: Path
) -> Iterator[dict[Any, Any]]:
    root = tmp_path_factory.mktemp("crashes")
    with ThreadPoolExecutor(max_workers=2) as pool:
        reference = pool.submit(clean_reference, reference_root, WORLD, FIRST_NIGHT, SOURCES, SETTINGS)
        keys = dict.fromkeys(selected(request.session) or [min(DEFAULT)])  # the check's own test needs one
        jobs = {key: pool.submit(killed_then_run, root, *key) for key in keys}
        yield {"reference": reference.result(), **{key: job.result() for key, job in jobs.items()}}


@pytest.mark.parametrize(("source", "stage"), SCENARIOS)
def test_sigkill_in_a_stage_of_a_source_then_run_equals_a_clean_run_and_no_cursor_runs_ahead(
    outcomes: dict[Any, Any], source: str, stage: str
) -> None:
    """SIGKILL inside `stage` of `source` during a nightly of all four sources; outcome: the kill landed there,
    no cursor ahead of the data, and the next `run` exits 0 with exactly a clean run's warehouse."""
    outcome = outcomes[(source, stage)]
    assert isinstance(outcome, Outcome)
    killed, again = outcome.killed, outcome.again
    assert killed.code == -signal.SIGKILL, f"the run was not killed ({killed.code}):\n{killed.out}\n{killed.err}"
    assert outcome.pending == {where: int(where == stage) for where in PENDING_FOLDERS}, outcome.pending
    assert not outcome.ahead_after_kill, "\n".join(outcome.ahead_after_kill)

    assert again.code == 0, again.out + again.err
    finished = any(f"{source}: first finished the load package" in line for line in again.out.splitlines())
    assert finished == (stage != "extract"), again.out
    assert outcome.pending_after == dict.fromkeys(PENDING_FOLDERS, 0)
    assert not outcome.ahead_after_run, "\n".join(outcome.ahead_after_run)
    reference = outcomes["reference"]
    assert isinstance(reference, dict)
    assert set(reference) >= {"hubspot_analytics_totals", "hubspot_leads", "attributionhub_conversions"}
    assert any(name.startswith("humblytics_") for name in reference)
    assert_same_warehouse(outcome.tables, reference)


def test_the_cursor_check_sees_a_cursor_ahead_of_the_data(outcomes: dict[Any, Any], tmp_path: Path) -> None:
    """The check the scenarios rely on can fail: in a copy of a recovered warehouse, remove the newest day of
    analytics totals and the newest lead; outcome: both the warehouse's and DLT_DATA_DIR's cursors of those
    two resources are reported ahead, and nothing else."""
    outcome = next(o for o in outcomes.values() if isinstance(o, Outcome))
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(outcome.warehouse.db, copy)
    assert not ahead_of_the_data(copy, outcome.warehouse.data_dir, SOURCES)
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "DELETE FROM marketing.hubspot_analytics_totals WHERE date = "
            "(SELECT MAX(date) FROM marketing.hubspot_analytics_totals)"
        )
        con.execute(
            "DELETE FROM marketing.hubspot_leads WHERE last_modified_at = "
            "(SELECT MAX(last_modified_at) FROM marketing.hubspot_leads)"
        )
    ahead = [
        (claim.source, claim.where, claim.cursor.resource)
        for source in SOURCES
        for claim in claims(copy, outcome.warehouse.data_dir, source)
        if claim.ahead
    ]
    assert sorted(ahead) == sorted(
        (source, where, resource)
        for source, resource in (("hubspot_analytics", "hubspot_analytics_totals"), ("hubspot_leads", "hubspot_leads"))
        for where in ("warehouse", "DLT_DATA_DIR")
    ), ahead
