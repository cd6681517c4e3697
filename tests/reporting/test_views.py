"""The views' numbers for a fixed sandbox world, against expectations computed from the world models."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from pipelines.reporting.settings import VIEWS

from . import expected
from .conftest import LAST, START, World

DAYS = expected.days(START, LAST)


def test_every_view_has_rows(world: World) -> None:
    for view in VIEWS:
        assert world.query(f"SELECT COUNT(*) FROM reporting.{view}")[0][0] > 0, view


def test_daily_traffic(world: World) -> None:
    config = world.config
    rows = world.query(
        "SELECT date, hubspot_visits, hubspot_visitors, hubspot_raw_views, humblytics_pageviews,"
        " humblytics_unique_visitors, leads_created, conversions FROM reporting.daily_traffic ORDER BY date"
    )
    assert [row[0] for row in rows] == DAYS  # one row per day, no gaps, nothing outside the loaded days
    created = expected.leads_created(config, START)
    for day, *numbers in rows:
        assert tuple(numbers) == (
            *expected.hubspot_totals(config, day),
            *expected.humblytics_traffic(config, day),
            created[day],
            expected.attributionhub_conversions(config, day),
        ), day


def test_channel_daily(world: World) -> None:
    config = world.config
    rows = world.query(
        "SELECT date, channel, hubspot_visits, hubspot_contacts, humblytics_sessions, attributionhub_sessions,"
        " attributionhub_converted_users FROM reporting.channel_daily"
    )
    assert len(rows) == len(DAYS) * len(expected.CHANNELS)  # every channel on every day
    got = {(day, channel): numbers for day, channel, *numbers in rows}
    assert {channel for _, channel in got} == set(expected.CHANNELS)
    for day in DAYS:
        hubspot = expected.hubspot_channels(config, day)
        humblytics = expected.humblytics_channels(config, day)
        attributionhub = expected.attributionhub_channels(config, day)
        for channel in expected.CHANNELS:
            want = (
                *hubspot.get(channel, (0, 0)),
                humblytics.get(channel, 0),
                *attributionhub.get(channel, (0, 0)),
            )
            assert tuple(got[(day, channel)]) == want, (day, channel)


def test_channel_values_are_all_mapped(world: World) -> None:
    rows = world.query("SELECT source_system, medium, source, channel, mapped FROM reporting.channel_values")
    assert all(mapped for *_, mapped in rows), [r for r in rows if not r[-1]]
    got = {(system, medium, source): channel for system, medium, source, channel, _ in rows}
    want = {("hubspot", value, ""): channel for value, channel in expected.HUBSPOT_CHANNEL.items()}
    want |= {("humblytics", medium, source): c for (source, medium), c in expected.HUMBLYTICS_CHANNEL.items()}
    want |= {
        ("attributionhub", *value.split("/", 1)): channel for value, channel in expected.ATTRIBUTIONHUB_CHANNEL.items()
    }
    assert got == want


def test_conversions(world: World) -> None:
    config = world.config
    rows = world.query(
        "SELECT source_system, date, lead_guid, converted_at, conversion_type, email FROM reporting.conversions"
    )
    by_system = Counter(row[0] for row in rows)
    assert by_system["attributionhub"] == sum(expected.attributionhub_conversions(config, day) for day in DAYS)
    hubspot = sorted((r[2], r[3]) for r in rows if r[0] == "hubspot_leads")
    want = sorted(
        (expected.lead_guid_of(config, state), expected.ms_to_utc(ms))
        for state in expected.live_leads(config, START)
        for ms in state.conversions
    )
    assert hubspot == want
    assert {r[4] for r in rows if r[0] == "hubspot_leads"} == {"hubspot_form"}
    assert all(r[1] == r[3].astimezone(dt.UTC).date() for r in rows)  # date is the UTC day of converted_at
    assert all(r[5] for r in rows if r[0] == "hubspot_leads")  # every HubSpot conversion has the lead's email


def test_leads_current(world: World) -> None:
    config = world.config
    rows = world.query(
        "SELECT lead_guid, email, hubspot_conversions, attributionhub_conversions, conversions, first_conversion_at,"
        " last_conversion_at FROM reporting.leads_current"
    )
    live = expected.live_leads(config, START)
    assert len(live) < len(expected.loaded_leads(config, START))  # the world has deleted leads to leave out
    emails = expected.attributionhub_emails(config, START, LAST)
    want = {}
    for state in live:
        email = expected.lead_email(config, state)
        attributed = emails[email.lower()]
        first = expected.ms_to_utc(min(state.conversions)) if state.conversions else None
        last = expected.ms_to_utc(max(state.conversions)) if state.conversions else None
        want[expected.lead_guid_of(config, state)] = (
            email,
            len(state.conversions),
            attributed,
            len(state.conversions) + attributed,
            first,
            last,
        )
    assert {guid: tuple(numbers) for guid, *numbers in rows} == want


def test_source_freshness(world: World) -> None:
    rows = world.query(
        "SELECT source, last_loaded_at, first_day, last_day, rows_loaded FROM reporting.source_freshness"
    )
    got = {source: rest for source, *rest in rows}
    assert set(got) == {"hubspot_analytics", "hubspot_leads", "attributionhub", "humblytics"}
    for source, (loaded_at, _, last, count) in got.items():
        assert loaded_at is not None and count > 0, source
        assert last == LAST, source
    assert got["hubspot_analytics"][1] == START and got["humblytics"][1] == START


@pytest.mark.parametrize("view", VIEWS)
def test_views_read_only_what_is_documented(world: World, view: str) -> None:
    """Every view's column list is the one its .sql header documents (the README copies those headers)."""
    from pipelines.reporting.render import view_source

    header = [line[3:] for line in view_source(view).splitlines() if line.startswith("-- ")]
    documented = " ".join(header)
    for column in world.columns(f"reporting.{view}"):
        assert column in documented, (view, column)


def test_readme_documents_each_view_with_two_queries_that_run(world: World) -> None:
    from .conftest import readme_queries

    queries = [sql for sqls in readme_queries().values() for sql in sqls]
    for view in VIEWS:
        assert sum(f"reporting.{view}" in sql for sql in queries) >= 2, view
    for sql in queries:
        assert world.query(sql) is not None, sql
