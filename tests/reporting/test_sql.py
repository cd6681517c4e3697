"""The views' SQL without a warehouse: declared inputs, stand-ins, transpilation, the channel map file."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from pipelines.reporting.channels import load_rules, parse_rules
from pipelines.reporting.inputs import CHANNEL_MAP_COLUMNS, INPUTS
from pipelines.reporting.refresh import build_plan
from pipelines.reporting.render import Names, RenderError, parsed_view, render_view, resolve
from pipelines.reporting.settings import CHANNELS, DEFAULT_CHANNEL_MAP, SOURCE_DIALECT, VIEWS
from sources.common.errors import ConfigError

DIALECTS = ("duckdb", "postgres", "bigquery")


def declared_schema() -> dict[str, dict[str, dict[str, str]]]:
    """marketing.* from inputs.INPUTS, reporting.* from the views themselves (in creation order)."""
    schema: dict[str, dict[str, dict[str, str]]] = {
        "marketing": {table: dict(spec.columns) for table, spec in INPUTS.items()},
        "reporting": {"channel_map": dict(CHANNEL_MAP_COLUMNS)},
    }
    for view in VIEWS:
        qualified = qualify(parsed_view(view), schema=schema, dialect=SOURCE_DIALECT, validate_qualify_columns=True)
        assert isinstance(qualified, exp.Query)
        schema["reporting"][view] = dict.fromkeys(qualified.named_selects, "TEXT")
    return schema


def test_every_column_a_view_reads_is_declared() -> None:
    """qualify() fails on a column no declared table has: inputs.INPUTS cannot drift from the SQL."""
    schema = declared_schema()
    assert set(schema["reporting"]) == {"channel_map", *VIEWS}


def test_an_undeclared_column_is_caught() -> None:
    schema = {"marketing": {table: dict(spec.columns) for table, spec in INPUTS.items()}}
    tree = sqlglot.parse_one("SELECT no_such_column FROM marketing.hubspot_leads", read=SOURCE_DIALECT)
    with pytest.raises(sqlglot.errors.OptimizeError):
        qualify(tree, schema=schema, dialect=SOURCE_DIALECT, validate_qualify_columns=True)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("view", VIEWS)
def test_views_transpile_and_parse(view: str, dialect: str) -> None:
    """Each view in each dialect, with every table present and with none: parses back in that dialect."""
    for present in (None, {}):
        sql = render_view(view, dialect, Names(catalog="my-project-1" if dialect == "bigquery" else None), present).sql
        assert sqlglot.parse_one(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)


def test_absent_tables_become_typed_empty_relations() -> None:
    present = {table: set(spec.columns) for table, spec in INPUTS.items() if spec.source != "humblytics"}
    present["hubspot_leads"].discard("crm_details__status")
    _, rendered = resolve("daily_traffic", Names(), present)
    assert rendered.absent == {"humblytics": ["humblytics_traffic_trends"]}
    sql = render_view("leads_current", "duckdb", Names(), present).sql
    assert "CAST(NULL AS TEXT) AS crm_details__status" in sql
    assert render_view("leads_current", "duckdb", Names(), present).missing_columns == {
        "hubspot_leads": ["crm_details__status"]
    }


def test_names_are_replaced_and_quoted() -> None:
    sql = render_view("conversions", "bigquery", Names("mkt", "rpt", "my-project-1")).sql
    assert "`my-project-1`.`mkt`.`attributionhub_conversions`" in sql
    assert "marketing." not in sql


def test_a_view_may_read_only_declared_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.reporting import render

    monkeypatch.setattr(render, "view_source", lambda view: "SELECT 1 AS x FROM marketing.not_declared")
    render._parsed.cache_clear()
    try:
        with pytest.raises(RenderError, match="not_declared"):
            render_view("anything", "duckdb", Names())
    finally:
        render._parsed.cache_clear()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_refresh_plan_parses(dialect: str) -> None:
    rules = load_rules(DEFAULT_CHANNEL_MAP)
    names = Names(catalog="my-project-1" if dialect == "bigquery" else None)
    plan = build_plan(dialect, names, None, rules, location="EU")
    for statement in plan.statements + plan.drops:
        assert sqlglot.parse_one(statement, read=dialect, error_level=sqlglot.ErrorLevel.RAISE), statement
    assert len(plan.rendered) == len(VIEWS)


def test_the_seed_file_parses_and_uses_the_vocabulary() -> None:
    rules = load_rules(DEFAULT_CHANNEL_MAP)
    assert rules and {rule.channel for rule in rules} == set(CHANNELS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no header"),
        ("system,medium,source,channel\n", "header must be"),
        ("source_system,medium,source,channel\nhubspot,organic,*,organic\n", "channel 'organic' is not one of"),
        ("source_system,medium,source,channel\nhubspott,organic,*,email\n", "source_system 'hubspott'"),
        ("source_system,medium,source,channel\nhubspot,organic,*\n", "expected 4 values"),
        ("source_system,medium,source,channel\nhubspot,,*,email\n", "medium is empty"),
        (
            "source_system,medium,source,channel\n*,cpc,*,paid search\n# note\n*,CPC,*,email\n",
            "line 4: \\*,cpc,\\* maps to 'email', but line 2",
        ),
    ],
)
def test_a_bad_channel_map_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rules(text, "map.csv")


def test_rules_are_trimmed_and_lower_cased() -> None:
    rules = parse_rules("# c\nsource_system,medium,source,channel\n\n Humblytics , CPC ,Google.com, Paid Search \n")
    assert [rule.row() for rule in rules] == [("humblytics", "cpc", "google.com", "paid search")]
