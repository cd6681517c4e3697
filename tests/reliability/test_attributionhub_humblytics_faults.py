"""Fault scenarios 1, 3, 4 and 5 of issue 18 for AttributionHub and Humblytics, through the real CLI on the hard
sandbox, plus each vendor's own limit (AttributionHub's monthly quota, Humblytics' 429 without `Retry-After`).

One module for both vendors: every generic scenario is parametrized by `VENDORS` (the source, its settings and
its drift fields); the flows live in `harness.Scenario`. Expected outcome, each time: the warehouse equals, row
for row, the warehouse of one clean run over the same world (harness.py) after the faulty night itself (faults
that retries absorb) or after the next night (faults that outlast the retries, a vendor down, a spent quota).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pendulum
import pytest

from sandbox.server import SandboxServer
from sources.common.stats import RUN_STATS
from tests.reliability.harness import (
    FIRST_NIGHT,
    HUBSPOT,
    AsRead,
    Night,
    Scenario,
    Table,
    Warehouse,
    World,
    assert_one_error_line_per_source,
    assert_same_warehouse,
    drifted_columns,
    faults_in,
    unprefixed,
    variant_columns,
    without_columns,
)

WORLD = World.hard()
SECOND_NIGHT = FIRST_NIGHT.add(days=1)
ATTRIBUTIONHUB, HUMBLYTICS = "attributionhub", "humblytics"
ALL_FOUR = (*HUBSPOT, ATTRIBUTIONHUB, HUMBLYTICS)
# Humblytics' hard sandbox serves 10 requests/s: two days keep its quick nights at ~3 s (30 days take ~40 s).
HUMBLYTICS_QUICK = {"SOURCES__HUMBLYTICS__START_DATE": FIRST_NIGHT.subtract(days=2).isoformat()}
Start = Callable[..., SandboxServer]
MakeWarehouse = Callable[[str], Warehouse]


@dataclass(frozen=True)
class Vendor:
    """What the generic scenarios need of one source: its name, settings, and drift (fault spec → columns)."""

    source: str
    settings: dict[str, str] = field(default_factory=dict)
    new_fields: str = ""  # drift adding fields ...
    new_columns: dict[str, set[str]] = field(default_factory=dict)  # ... and the columns they must become
    new_objects: str = ""  # drift adding a nested object {"id": 1, "label": "drifted"} ...
    object_tables: tuple[str, ...] = ()  # ... to the rows of these tables (as `segment__id`, `segment__label`)
    retyped: str = ""  # drift turning numbers into text no loader coerces back (prefix "~") ...
    variants: dict[str, set[str]] = field(default_factory=dict)  # ... and the variant columns it must make
    vanishing: str = ""  # drift dropping fields or sending null ...
    vanished: dict[str, set[str]] = field(default_factory=dict)  # ... and the columns that then hold NULL
    late_table: str | None = None  # a table whose loaded days gain rows later (late conversions)

    def scenario(self, reference_root: Path, world: World = WORLD, settings: dict[str, str] | None = None) -> Scenario:
        as_read = INSIGHTS_AS_READ if self.source == ATTRIBUTIONHUB else None
        return Scenario(world, (self.source,), settings or self.settings, reference_root, as_read)

    def spec(self, template: str) -> str:
        return template.replace("{v}", self.source)


AH_CHANNELS = "attributionhub_insights__channels"
AH_START = {"SOURCES__ATTRIBUTIONHUB__START_DATE": FIRST_NIGHT.subtract(days=30).isoformat()}
# Insights snapshots of days before the lookback keep the numbers as read (harness.AsRead, README Reliability).
INSIGHTS_AS_READ = AsRead(
    ("attributionhub_insights", AH_CHANNELS), "window_end", ("segment", "window_start", "window_end")
)
HB_DETAILS = ("humblytics_clicks_details", "humblytics_forms_details")
VENDORS = {
    ATTRIBUTIONHUB: Vendor(
        ATTRIBUTIONHUB,
        settings=AH_START,
        new_fields="attributionhub:new_field=campaignGroup,parent=conversion_page;"
        "attributionhub:new_field=channelGroup,parent=channel",
        new_columns={"attributionhub_conversions": {"campaign_group"}, AH_CHANNELS: {"channel_group"}},
        new_objects="attributionhub:new_object=segment,parent=conversion_page",
        object_tables=("attributionhub_conversions",),
        retyped="attributionhub:type_change=total_sessions,prefix=~",
        variants={n: {"total_sessions__v_text"} for n in ("attributionhub_insights", AH_CHANNELS)},
        vanishing="attributionhub:drop_field=total_users;attributionhub:null_field=avg_time_to_convert",
        vanished={"attributionhub_insights": {"total_users", "avg_time_to_convert"}, AH_CHANNELS: {"total_users"}},
        late_table="attributionhub_conversions",
    ),
    HUMBLYTICS: Vendor(
        HUMBLYTICS,
        settings=HUMBLYTICS_QUICK,
        new_fields="humblytics:new_field=pageGroup,parent=pageviews;humblytics:new_field=channelGroup,parent=sessions;"
        "humblytics:new_field=targetGroup,parent=target",
        new_columns={
            "humblytics_traffic_trends": {"page_group"},
            "humblytics_traffic_breakdown": {"channel_group"},
            "humblytics_clicks_breakdown": {"target_group"},
            "humblytics_clicks_details": {"target_group"},
        },
        new_objects="humblytics:new_object=segment,parent=pageviews;humblytics:new_object=segment,parent=sessions",
        object_tables=("humblytics_traffic_trends", "humblytics_traffic_breakdown"),
        retyped="humblytics:type_change=sessions,prefix=~;humblytics:type_change=pageviews,prefix=~",
        variants={
            "humblytics_traffic_breakdown": {"sessions__v_text"},
            "humblytics_traffic_trends": {"pageviews__v_text"},
        },
        vanishing="humblytics:drop_field=unique_visitors;humblytics:null_field=share",
        vanished={
            "humblytics_traffic_trends": {"unique_visitors"},
            "humblytics_traffic_breakdown": {"share"},
            **{name: {"share"} for name in HB_DETAILS},
        },
    ),
}


def each_vendor(*slow: str) -> pytest.MarkDecorator:
    """Parametrize over both vendors; those named in ``slow`` are `@pytest.mark.slow`."""
    return pytest.mark.parametrize(
        "vendor",
        [pytest.param(v, id=name, marks=pytest.mark.slow if name in slow else ()) for name, v in VENDORS.items()],
    )


# --- 1. transient faults: retried, the data complete ------------------------------------------------------

TRANSIENT = {  # `{v}` is the vendor; ordinals stay below the ~25 requests of a quick Humblytics night
    "mixed": "{v}:status=500,start=2,count=2;{v}:drop,nth=5;{v}:truncate,nth=8;{v}:status=429,retry_after=0.2,nth=11;"
    "{v}:status=429,nth=14;{v}:status=503,nth=17",
    "5xx-bursts": "{v}:status=500,start=2,count=2;{v}:status=502,start=8,count=3;{v}:status=504,nth=15",
    "dropped-connections": "{v}:drop,start=3,count=2;{v}:drop,nth=12",
    "truncated-json": "{v}:truncate,start=2,count=2;{v}:truncate,nth=10",
    "429s-with-retry-after": "{v}:status=429,retry_after=0.2,start=2,count=3",
    "429s-without-retry-after": "{v}:status=429,start=2,count=3",
    "answers-slower-than-the-timeout": "{v}:slow=2.5,nth=3;{v}:slow=2.5,nth=9",
}


@pytest.mark.parametrize(
    ("vendor", "kind"),
    [
        pytest.param(v, kind, id=f"{name}-{kind}", marks=() if kind == "mixed" else pytest.mark.slow)
        for name, v in VENDORS.items()
        for kind in TRANSIENT
    ],
)
def test_transient_faults_are_retried_and_the_night_loads_exactly_a_clean_runs_rows(
    vendor: Vendor, kind: str, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 1: 5xx bursts, dropped connections, truncated JSON, 429s with and without `Retry-After` and
    answers slower than the timeout are served and retried; outcome: exit 0, every fault served and retried,
    and the warehouse equals a clean run's."""
    scenario, faults = vendor.scenario(reference_root), vendor.spec(TRANSIENT[kind])
    subject = warehouse("subject")
    result = scenario.night(subject, start_world(WORLD), Night(FIRST_NIGHT, faults=faults, frozen=True))
    assert result.code == 0, result.out + result.err
    assert result.faults == faults_in(faults), result.statuses
    assert RUN_STATS.snapshot()["retries"].get(vendor.source, 0) >= faults_in(faults)  # + the vendor's own 429s
    scenario.assert_equals_clean_run(subject, FIRST_NIGHT)


OUTLASTING = {
    "5xx-all-night": ("{v}:status=503", "503"),
    "429s-all-night": ("{v}:status=429,retry_after=0.1", "429"),
    "connections-dropped-all-night": ("{v}:drop", "RemoteProtocolError"),
}


@pytest.mark.parametrize(
    ("vendor", "kind"),
    [
        pytest.param(
            v,
            kind,
            id=f"{name}-{kind}",
            marks=() if (name, kind) == (ATTRIBUTIONHUB, "5xx-all-night") else pytest.mark.slow,
        )
        for name, v in VENDORS.items()
        for kind in OUTLASTING
    ],
)
def test_faults_that_outlast_the_retries_fail_with_one_clear_line_and_the_next_night_completes(
    vendor: Vendor, kind: str, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 1, retries spent: night 1 exits 1 with one `error:` line naming the source and what the vendor
    did, no traceback; night 2 (no faults) exits 0 and the warehouse equals one clean run on night 2."""
    template, words = OUTLASTING[kind]
    failed = vendor.scenario(reference_root).failed_then_completed(
        warehouse("subject"), start_world(WORLD), vendor.spec(template), (vendor.source,), words
    )
    assert failed.requests > 0 and failed.faults == failed.requests


# --- 3. a vendor down for a whole night ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("down", "sources"),
    [
        pytest.param(
            ATTRIBUTIONHUB,
            (ATTRIBUTIONHUB, HUMBLYTICS),
            id="attributionhub-down-humblytics-loads",
            marks=pytest.mark.slow,
        ),
        pytest.param(HUMBLYTICS, ALL_FOUR, id="humblytics-down-all-four-sources", marks=pytest.mark.slow),
        pytest.param(ATTRIBUTIONHUB, ALL_FOUR, id="attributionhub-down-all-four-sources", marks=pytest.mark.slow),
    ],
)
def test_a_vendor_down_for_a_night_the_others_load_and_the_next_night_catches_up_with_no_gap(
    down: str, sources: tuple[str, ...], start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 3: `down` answers 503 to every request of a night while the other sources run in the same
    invocation; outcome: exit 1 with one line naming only `down`, every other source loads exactly a clean
    run's rows; the next night exits 0 and the warehouse equals one clean run on that night (no gap)."""
    scenario = Scenario(WORLD, sources, {**HUMBLYTICS_QUICK, **AH_START}, reference_root, INSIGHTS_AS_READ)
    failed = scenario.failed_then_completed(
        warehouse("subject"), start_world(WORLD), f"{down}:status=503", (down,), "503"
    )
    assert all(f"{source}: ok" in failed.out for source in sources if source != down), failed.out


# --- vendor limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quota", "start_date"),
    [
        pytest.param(40, FIRST_NIGHT.subtract(days=30), id="quota-40-first-nightly"),
        pytest.param(300, FIRST_NIGHT.subtract(days=365), id="quota-300-year-backfill", marks=pytest.mark.slow),
    ],
)
def test_the_monthly_quota_spent_mid_backfill_keeps_what_arrived_and_next_month_completes_it(
    quota: int, start_date: pendulum.Date, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """AttributionHub's monthly quota (the hard sandbox's 300, or a smaller one) runs out while the first load
    backfills from `start_date`; outcome: exit 1 with one line saying the quota is spent (the vendor's limit
    and used), the whole windows that arrived are loaded; on the first night of the next month (the quota
    reset) the run exits 0 and the warehouse equals one clean run of that night: no gap, no duplicate."""
    world = World.hard(attributionhub_monthly_quota=quota)
    settings = {"SOURCES__ATTRIBUTIONHUB__START_DATE": start_date.isoformat()}
    scenario = VENDORS[ATTRIBUTIONHUB].scenario(reference_root, world, settings)
    sandbox, subject = start_world(world), warehouse("subject")
    spent = scenario.night(subject, sandbox, Night(FIRST_NIGHT))
    assert spent.code == 1, spent.out + spent.err
    assert_one_error_line_per_source(spent, (ATTRIBUTIONHUB,), "quota is spent", f"limit {quota}, used {quota}")
    assert spent.statuses["200"] == quota, spent.statuses  # nothing retried past the quota
    loaded = subject.tables()
    assert sum(len(t) for t in loaded.values()) > 0, "what arrived before the quota was not loaded"
    next_month = pendulum.date(FIRST_NIGHT.year, FIRST_NIGHT.month, 1).add(months=1)
    done = scenario.night(subject, sandbox, Night(next_month, frozen=True))
    assert done.code == 0, done.out + done.err
    scenario.assert_equals_clean_run(subject, next_month, world=World.hard(attributionhub_monthly_quota=None))


@pytest.mark.slow
def test_humblytics_429s_without_retry_after_are_waited_out_and_the_data_is_complete(
    start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Humblytics' rate limit (10 requests/s on the hard sandbox, refused requests counted, half the 429s
    without `Retry-After`) met by a first nightly of 30 days (~380 requests); outcome: 429s of both kinds
    were answered and retried, exit 0, and the warehouse equals a clean run's."""
    settings = {"SOURCES__HUMBLYTICS__START_DATE": FIRST_NIGHT.subtract(days=30).isoformat()}
    scenario = Scenario(WORLD, (HUMBLYTICS,), settings, reference_root)
    subject = warehouse("subject")
    result = scenario.night(subject, start_world(WORLD), Night(FIRST_NIGHT, frozen=True))
    assert result.code == 0, result.out + result.err
    assert result.statuses.get("429", 0) > 0, result.statuses
    assert "HTTP 429 on " in result.err and "HTTP 429, Retry-After" in result.err  # both kinds were met
    scenario.assert_equals_clean_run(subject, FIRST_NIGHT)


# --- 4. schema drift ----------------------------------------------------------------------------------------


@each_vendor()
def test_a_new_field_becomes_a_column_without_failure(
    vendor: Vendor, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 4: records gain fields the documents do not list; outcome: exit 0, each is a column holding its
    value ("drifted"), and every other column equals a clean run's."""
    scenario, subject = vendor.scenario(reference_root), warehouse("subject")
    result = scenario.night(subject, start_world(WORLD), Night(FIRST_NIGHT, faults=vendor.new_fields, frozen=True))
    assert result.code == 0, result.out + result.err
    tables, reference = subject.tables(), scenario.reference(FIRST_NIGHT)
    new = drifted_columns(tables, reference)
    assert new == vendor.new_columns
    for name, columns in new.items():
        for column in columns:
            assert {row[tables[name].columns.index(column)] for row in tables[name].rows} == {"drifted"}, name
    assert_same_warehouse(without_columns(tables, new), reference)


@each_vendor()
def test_a_nested_object_appearing_becomes_child_columns(
    vendor: Vendor, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 4: records gain a nested object; outcome: exit 0, its keys become child columns
    (`segment__id`, `segment__label`) holding its values, and every other column equals a clean run's."""
    scenario, subject = vendor.scenario(reference_root), warehouse("subject")
    result = scenario.night(subject, start_world(WORLD), Night(FIRST_NIGHT, faults=vendor.new_objects, frozen=True))
    assert result.code == 0, result.out + result.err
    tables, reference = subject.tables(), scenario.reference(FIRST_NIGHT)
    new = drifted_columns(tables, reference)
    assert new == {name: {"segment__id", "segment__label"} for name in vendor.object_tables}
    for name in vendor.object_tables:
        columns = tables[name].columns
        values = {
            (row[columns.index("segment__id")], row[columns.index("segment__label")]) for row in tables[name].rows
        }
        assert values == {(1, "drifted")}, name
    assert_same_warehouse(without_columns(tables, new), reference)


def clean_then_drifted(
    vendor: Vendor, faults: str, sandbox: SandboxServer, subject: Warehouse, reference_root: Path
) -> Scenario:
    """A clean first night, then a second night with drift ``faults``; both must exit 0."""
    scenario = vendor.scenario(reference_root)
    assert scenario.night(subject, sandbox, Night(FIRST_NIGHT, frozen=True)).code == 0
    result = scenario.night(subject, sandbox, Night(SECOND_NIGHT, faults=faults, frozen=True))
    assert result.code == 0, result.out + result.err
    return scenario


@each_vendor(HUMBLYTICS)
def test_a_type_change_lands_in_a_variant_column_and_nothing_is_lost(
    vendor: Vendor, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 4: after a clean night, numbers arrive as text no loader can coerce back ("~17"); outcome:
    exit 0, the values land in variant columns (`*__v_text`), and folded back they equal a clean run's."""
    subject = warehouse("subject")
    scenario = clean_then_drifted(vendor, vendor.retyped, start_world(WORLD), subject, reference_root)
    tables, reference = scenario.comparable(subject, SECOND_NIGHT)
    assert variant_columns(tables) == vendor.variants
    assert_same_warehouse(unprefixed(tables, "~"), reference)


@each_vendor(HUMBLYTICS)
def test_a_field_disappearing_or_turning_null_changes_nothing_else(
    vendor: Vendor, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 4: after a clean night, fields stop being sent or arrive as null; outcome: exit 0, no column
    appears or disappears, the re-read rows hold NULL there, and every other value equals a clean run's."""
    subject = warehouse("subject")
    scenario = clean_then_drifted(vendor, vendor.vanishing, start_world(WORLD), subject, reference_root)
    tables, reference = scenario.comparable(subject, SECOND_NIGHT)
    assert {n: t.columns for n, t in tables.items()} == {n: t.columns for n, t in reference.items()}
    assert_same_warehouse(without_columns(tables, vendor.vanished), without_columns(reference, vendor.vanished))
    for name, columns in vendor.vanished.items():
        for column in columns:
            values = [row[tables[name].columns.index(column)] for row in tables[name].rows]
            assert None in values, (name, column)  # the re-read days hold NULL there


# --- 5. late conversions and restated numbers over several nights --------------------------------------------


@each_vendor(ATTRIBUTIONHUB, HUMBLYTICS)
def test_late_conversions_and_restated_days_settle_on_the_vendors_final_numbers(
    vendor: Vendor, start_world: Start, warehouse: MakeWarehouse, reference_root: Path
) -> None:
    """Scenario 5: five nights in a row with the world changing during the runs (conversions arriving up to
    3 days late, today's partial numbers growing; the sandbox restates no past Humblytics day) and retried
    faults each night; outcome: every night exits 0, and after the last one (clock still) the warehouse equals
    one clean run on that night: every settled day holds the vendor's final numbers, no late conversion is
    missing and none is loaded twice."""
    scenario = vendor.scenario(reference_root)
    sandbox, subject = start_world(WORLD), warehouse("subject")
    nights = [FIRST_NIGHT.add(days=i) for i in range(5)]
    first: dict[str, Table] = {}
    for i, day in enumerate(nights):
        faults = vendor.spec(f"{{v}}:status=503,nth={2 + i};{{v}}:truncate,nth={4 + i}")
        result = scenario.night(subject, sandbox, Night(day, faults=faults, frozen=day == nights[-1]))
        assert result.code == 0, f"night {day}: {result.out}{result.err}"
        first = first or subject.tables()
    scenario.assert_equals_clean_run(subject, nights[-1])
    if vendor.late_table:  # the scenario had late arrivals to catch: days loaded on night 1 gained rows since

        def loaded_on_night_1(t: Table) -> int:
            return len(t.where("date", lambda d: d < FIRST_NIGHT))

        assert loaded_on_night_1(subject.tables()[vendor.late_table]) > loaded_on_night_1(first[vendor.late_table])
