"""Fault scenarios 1, 3, 4 and 5 of issue 18 for the two HubSpot sources, through the real CLI on the hard sandbox.

Both sources run in every invocation (`--sources hubspot_analytics,hubspot_leads`). Expected outcome, each
time: the warehouse equals, row for row, the warehouse of one clean run over the same world (harness.py),
after the faulty night itself (faults that retries absorb) or after the next night (faults that outlast the
retries: that night fails with one clear line per source, the next one completes it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pendulum
import pytest

from sandbox.server import SandboxServer
from sources.common.stats import RUN_STATS
from tests.reliability.harness import (
    FIRST_NIGHT,
    HUBSPOT,
    Night,
    RunResult,
    Table,
    Warehouse,
    World,
    assert_one_error_line_per_source,
    assert_same_warehouse,
    clean_reference,
    diff,
    drifted_columns,
    run_night,
    unprefixed,
    without_columns,
)

WORLD = World.hard()
SECOND_NIGHT = FIRST_NIGHT.add(days=1)
LEADS_TABLES = (
    "hubspot_leads",
    "hubspot_leads__lead_conversion_events",
    "hubspot_leads__lead_conversion_events__form_submission_values",
)
Start = Callable[..., SandboxServer]
MakeWarehouse = Callable[[str], Warehouse]


def analytics_only(tables: dict[str, Table]) -> dict[str, Table]:
    return {name: table for name, table in tables.items() if name.startswith("hubspot_analytics_")}


# --- 1. transient faults: retried, the data complete ------------------------------------------------------

TRANSIENT = [
    pytest.param(
        "hubspot_analytics:status=500,start=3,count=2;hubspot_analytics:status=502,start=20,count=3;"
        "hubspot_analytics:status=504,nth=45;hubspot_leads:status=503,start=2,count=3",
        id="5xx-bursts",
    ),
    pytest.param(
        "hubspot_analytics:drop,start=4,count=2;hubspot_analytics:drop,nth=30;hubspot_leads:drop,start=2,count=2",
        id="dropped-connections",
    ),
    pytest.param(
        "hubspot_analytics:truncate,start=2,count=2;hubspot_analytics:truncate,nth=25;hubspot_leads:truncate,nth=3",
        id="truncated-json",
    ),
    pytest.param(
        "hubspot_analytics:slow=2.5,nth=5;hubspot_analytics:slow=2.5,nth=33;hubspot_leads:slow=2.5,nth=2",
        id="answers-slower-than-the-timeout",
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "hubspot_analytics:status=429,retry_after=0.2,start=2,count=3;hubspot_leads:status=429,retry_after=0.2,"
        "start=1,count=3",
        id="sustained-429s-with-retry-after",
    ),
]


@pytest.mark.parametrize("faults", TRANSIENT)
def test_transient_faults_are_retried_and_the_night_loads_exactly_a_clean_runs_rows(
    faults: str, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 1: the faults are served (and retried) while both sources load; outcome: exit 0, and the
    warehouse equals a clean run's."""
    sandbox = start_world(WORLD)
    subject = warehouse("subject")
    result = run_night(subject, sandbox, WORLD, Night(FIRST_NIGHT, faults=faults, frozen=True))
    assert result.code == 0, result.out + result.err
    served = sum(int(part.split("count=")[1]) if "count=" in part else 1 for part in faults.split(";"))
    assert result.faults == served, f"{result.faults} faults served of {served}: {result.statuses}"
    # A fault that damages a terminal answer (the 501 that asks for a narrower window) is not retried: the
    # window is split. Which request meets which fault depends on the order of the concurrent drilldowns.
    terminal = sum(
        1
        for entry in sandbox.request_log
        if entry["status"] in (413, 501) and any("truncate" in fault for fault in entry["faults"])
    )
    assert RUN_STATS.snapshot()["retries"].get("hubspot") == served - terminal
    assert_same_warehouse(subject.tables(), clean_reference(reference_root, WORLD, FIRST_NIGHT))


@pytest.mark.parametrize(
    ("faults", "words"),
    [
        pytest.param("hubspot:status=503", ("503",), id="5xx-all-night"),
        pytest.param("hubspot:status=429,retry_after=0.1", ("429",), id="429s-all-night", marks=pytest.mark.slow),
        pytest.param(
            "hubspot:drop", ("RemoteProtocolError",), id="connections-dropped-all-night", marks=pytest.mark.slow
        ),
    ],
)
def test_faults_that_outlast_the_retries_fail_with_one_clear_line_and_the_next_night_completes(
    faults: str, words: tuple[str, ...], start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 1, retries spent: night 1 exits 1 with one `error:` line per source naming what the vendor did
    and no traceback; night 2 (no faults) exits 0 and the warehouse equals one clean run on night 2."""
    sandbox = start_world(WORLD)
    subject = warehouse("subject")
    failed = run_night(subject, sandbox, WORLD, Night(FIRST_NIGHT, faults=faults))
    assert failed.code == 1, failed.out + failed.err
    assert_one_error_line_per_source(failed, HUBSPOT, *words)
    assert failed.requests > 0 and failed.faults == failed.requests
    done = run_night(subject, sandbox, WORLD, Night(SECOND_NIGHT, frozen=True))
    assert done.code == 0, done.out + done.err
    assert_same_warehouse(subject.tables(), clean_reference(reference_root, WORLD, SECOND_NIGHT))


@pytest.mark.slow
def test_429s_without_retry_after_wait_out_hubspots_ten_second_window(
    start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 1, the 429 HubSpot sends without Retry-After (TEN_SECONDLY_ROLLING): waited out, data complete."""
    sandbox = start_world(WORLD)
    subject = warehouse("subject")
    faults = "hubspot_analytics:status=429,nth=3;hubspot_leads:status=429,nth=1"
    result = run_night(subject, sandbox, WORLD, Night(FIRST_NIGHT, faults=faults, frozen=True))
    assert result.code == 0 and result.faults == 2, result.out + result.err
    assert_same_warehouse(subject.tables(), clean_reference(reference_root, WORLD, FIRST_NIGHT))


# --- 3. a vendor API down for a whole night ------------------------------------------------------------------


@pytest.mark.parametrize(
    "down", [pytest.param("hubspot_analytics", marks=pytest.mark.slow), pytest.param("hubspot_leads")]
)
def test_one_api_down_for_a_night_the_other_loads_and_the_next_night_catches_up_with_no_gap(
    down: str, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 3: `down` answers 503 all night (the world changing during the run); the other source loads
    (analytics: exactly a clean run's rows), the night exits 1 naming only `down`; the next night exits 0 and
    the warehouse equals one clean run on that night."""
    sandbox = start_world(WORLD)
    subject = warehouse("subject")
    night = run_night(subject, sandbox, WORLD, Night(FIRST_NIGHT, faults=f"{down}:status=503"))
    assert night.code == 1, night.out + night.err
    assert_one_error_line_per_source(night, (down,), "503")
    up = next(source for source in HUBSPOT if source != down)
    assert f"{up}: ok" in night.out
    loaded = subject.tables()
    if up == "hubspot_analytics":
        assert_same_warehouse(
            analytics_only(loaded), analytics_only(clean_reference(reference_root, WORLD, FIRST_NIGHT))
        )
    else:
        assert not analytics_only(loaded) and len(loaded["hubspot_leads"]) > 0
    done = run_night(subject, sandbox, WORLD, Night(SECOND_NIGHT, frozen=True))
    assert done.code == 0, done.out + done.err
    assert_same_warehouse(subject.tables(), clean_reference(reference_root, WORLD, SECOND_NIGHT))


# --- 4. schema drift ----------------------------------------------------------------------------------------


def drifted_night(
    faults: str, sandbox: SandboxServer, subject: Warehouse, reference_root: Path
) -> tuple[dict[str, Table], dict[str, Table]]:
    """One first night with drift ``faults`` (it must exit 0): the subject's tables and a clean run's."""
    result = run_night(subject, sandbox, WORLD, Night(FIRST_NIGHT, faults=faults, frozen=True))
    assert result.code == 0, result.out + result.err
    return subject.tables(), clean_reference(reference_root, WORLD, FIRST_NIGHT)


def test_a_new_field_becomes_a_column_without_failure(
    start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 4: every lead, conversion event and analytics breakdown row gains a field; outcome: exit 0,
    the field is a column holding its value, and every other column equals a clean run's."""
    faults = "hubspot_leads:new_field=leadSegment,parent=guid;hubspot_analytics:new_field=channelGroup,parent=breakdown"
    tables, reference = drifted_night(faults, start_world(WORLD), warehouse("subject"), reference_root)
    new = drifted_columns(tables, reference)
    assert new == {
        "hubspot_leads": {"lead_segment"},
        "hubspot_leads__lead_conversion_events": {"lead_segment"},
        "hubspot_analytics_sources": {"channel_group"},
        "hubspot_analytics_blog_posts": {"channel_group"},
    }
    for name, columns in new.items():
        (column,) = columns
        assert {row[tables[name].columns.index(column)] for row in tables[name].rows} == {"drifted"}, name
    assert_same_warehouse(without_columns(tables, new), reference)


@pytest.mark.slow
def test_a_nested_object_appearing_becomes_child_columns(
    start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 4: a nested object appears in every lead and analytics breakdown row; outcome: exit 0, its keys
    become child columns (`segment__id`, `segment__label`) or a child table, the rest equals a clean run."""
    faults = "hubspot_leads:new_object=segment,parent=email;hubspot_analytics:new_object=segment,parent=breakdown"
    tables, reference = drifted_night(faults, start_world(WORLD), warehouse("subject"), reference_root)
    new = drifted_columns(tables, reference)
    for name in ("hubspot_leads", "hubspot_analytics_sources", "hubspot_analytics_blog_posts"):
        assert new.get(name) == {"segment__id", "segment__label"}, (name, new)
    assert_same_warehouse(without_columns(tables, new), reference)


def clean_then_drifted(
    faults: str, sandbox: SandboxServer, subject: Warehouse, reference_root: Path
) -> tuple[RunResult, dict[str, Table], dict[str, Table]]:
    """A clean first night, then a second night with drift ``faults`` (both must exit 0): the second night's
    result, the subject's tables and a clean run's on the second night."""
    assert run_night(subject, sandbox, WORLD, Night(FIRST_NIGHT, frozen=True)).code == 0
    result = run_night(subject, sandbox, WORLD, Night(SECOND_NIGHT, faults=faults, frozen=True))
    assert result.code == 0, result.out + result.err
    return result, subject.tables(), clean_reference(reference_root, WORLD, SECOND_NIGHT)


def test_a_type_change_is_loaded_into_a_variant_column_and_named_in_the_run_summary(
    start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 4: after a clean night, numbers arrive as text no loader can coerce back (`leadId` "L-1000123",
    `visits` "~17"); outcome: exit 0, nothing lost (the values land in variant columns), and the run summary
    names every variant column the night created."""
    faults = "hubspot_leads:type_change=leadId,prefix=L-;hubspot_analytics:type_change=visits,prefix=~"
    result, tables, reference = clean_then_drifted(faults, start_world(WORLD), warehouse("subject"), reference_root)
    variants = {name: [c for c in t.columns if "__v_" in c] for name, t in tables.items()}
    variants = {name: columns for name, columns in variants.items() if columns}
    assert variants == {  # leadId is also in analyticsDetails; the totals rows have visits too
        "hubspot_leads": ["analytics_details__lead_id__v_text", "lead_id__v_text"],
        **{f"hubspot_analytics_{r}": ["visits__v_text"] for r in ("totals", "sources", "blog_posts")},
    }
    assert_same_warehouse(unprefixed(tables, "L-", "~"), reference)
    summary_notes = [line for line in result.out.splitlines() if line.startswith("note: ")]
    for name, columns in variants.items():
        assert any(f"{name}.{c}" in line for c in columns for line in summary_notes), (name, result.out)


def test_a_field_disappearing_changes_nothing_but_that_fields_values(
    start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 4: after a clean night, `jobTitle` (leads) and `visitors` (analytics) stop being sent; outcome:
    exit 0, no column appears or disappears, every other value equals a clean run's."""
    faults = "hubspot_leads:drop_field=jobTitle;hubspot_analytics:drop_field=visitors"
    _, tables, reference = clean_then_drifted(faults, start_world(WORLD), warehouse("subject"), reference_root)
    assert {n: t.columns for n, t in tables.items()} == {n: t.columns for n, t in reference.items()}
    dropped = {
        "hubspot_leads": {"job_title"},
        **{n: {"visitors"} for n in reference if n.startswith("hubspot_analytics_")},
    }
    assert_same_warehouse(without_columns(tables, dropped), without_columns(reference, dropped))
    reloaded = tables["hubspot_leads"].where("last_modified_at", lambda at: at >= pendulum.datetime(2026, 11, 20, 2))
    assert len(reloaded) and {row[reloaded.columns.index("job_title")] for row in reloaded.rows} == {None}


# --- 5. restated analytics over several nights ---------------------------------------------------------------


@pytest.mark.slow
def test_restated_days_settle_on_the_vendors_final_numbers_over_six_nights(
    start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 5: six nights in a row, the world changing during the runs (days restated up and down, leads
    edited mid-run) and a few faults each night; outcome: every night exits 0; after the last night (clock
    still) the warehouse equals one clean run on that night, and every settled day (older than the restatement
    period) equals the vendor's final numbers (a clean backfill weeks later)."""
    sandbox = start_world(WORLD)
    subject = warehouse("subject")
    nights = [FIRST_NIGHT.add(days=i) for i in range(6)]
    for i, day in enumerate(nights):
        faults = f"hubspot_analytics:status=503,nth={3 + i};hubspot_leads:truncate,nth={1 + i % 2}"
        result = run_night(subject, sandbox, WORLD, Night(day, faults=faults, frozen=day == nights[-1]))
        assert result.code == 0, f"night {day}: {result.out}{result.err}"
    tables = subject.tables()
    assert_same_warehouse(tables, clean_reference(reference_root, WORLD, nights[-1]))
    last_settled = nights[-1].subtract(days=WORLD.config().restate_days + 1)
    final = clean_reference(  # weeks later every day is final
        reference_root,
        WORLD,
        nights[-1].add(days=30),
        sources=("hubspot_analytics",),
        argv=("backfill", "--start", "2026-11-01", "--end", nights[-1].subtract(days=1).isoformat()),
    )

    def days(tables: dict[str, Table], settled: bool) -> dict[str, Table]:
        return {n: t.where("date", lambda d: (d <= last_settled) == settled) for n, t in analytics_only(tables).items()}

    assert_same_warehouse(days(tables, settled=True), days(final, settled=True))
    # the days still restated hold other numbers than the final ones: the yardstick tells them apart
    assert diff(days(tables, settled=False), days(final, settled=False))
