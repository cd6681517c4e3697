"""BigQuery, offline: what can be checked without reaching it.

- every table and column every source creates (the dlt schemas the test world stored in `_dlt_version`)
  has a name BigQuery accepts and a type dlt's BigQuery type mapper maps, for the file format we load
  BigQuery with (parquet, where JSON columns are refused);
- the views transpile to BigQuery SQL that parses as BigQuery and whose every column resolves against
  those tables with their BigQuery types;
- the README shows the setup (location, credentials the dlt way, loader_file_format).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlglot
from dlt.destinations import bigquery
from dlt.destinations.impl.bigquery.factory import BigQueryTypeMapper
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from pipelines.reporting.inputs import CHANNEL_MAP_COLUMNS, INPUTS
from pipelines.reporting.refresh import build_plan
from pipelines.reporting.render import Names, generate, resolve
from pipelines.reporting.settings import VIEWS
from pipelines.warehouse import LOADER_FILE_FORMAT

from .conftest import World

README = Path(__file__).resolve().parents[2] / "README.md"
CAPABILITIES = bigquery().capabilities()
# BigQuery column names: letters, digits, underscores, not starting with a digit, at most 300 characters;
# these prefixes are reserved (case-insensitive). Dataset and table names: letters, digits, underscores.
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")
TABLE = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
RESERVED_PREFIXES = ("_table_", "_file_", "_partition", "_row_timestamp", "__root__", "_colidentifier")
SOURCES = {"hubspot_analytics", "hubspot_leads", "attributionhub", "humblytics"}


def stored_schemas(world: World) -> dict[str, dict]:
    """The newest dlt schema of every source, as the loads stored them in the warehouse."""
    rows = world.query(
        "SELECT schema_name, schema FROM marketing._dlt_version "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY schema_name ORDER BY inserted_at DESC) = 1"
    )
    return {name: json.loads(text) for name, text in rows}


def bigquery_types(world: World) -> dict[str, dict[str, str]]:
    """table -> column -> BigQuery type, for every table of every source."""
    mapper = BigQueryTypeMapper(CAPABILITIES)
    out: dict[str, dict[str, str]] = {}
    for schema in stored_schemas(world).values():
        for name, table in schema["tables"].items():
            columns = {c: spec for c, spec in table.get("columns", {}).items() if spec.get("data_type")}
            prepared = {**table, "name": name}
            for spec in columns.values():
                mapper.ensure_supported_type(spec, prepared, LOADER_FILE_FORMAT["bigquery"])
            out[name] = {column: mapper.to_destination_type(spec, prepared) for column, spec in columns.items()}
    return out


def test_every_source_table_and_column_is_legal_for_bigquery(world: World) -> None:
    schemas = stored_schemas(world)
    assert set(schemas) >= SOURCES, set(schemas)  # every source of the world is covered
    types = bigquery_types(world)
    assert len(types) >= 20
    for table, columns in types.items():
        assert TABLE.match(table) and len(table) <= CAPABILITIES.max_identifier_length, table
        lowered = [c.lower() for c in columns]
        assert len(set(lowered)) == len(lowered), table  # BigQuery names are case-insensitive
        for column, bq_type in columns.items():
            assert COLUMN.match(column) and len(column) <= CAPABILITIES.max_column_identifier_length, (table, column)
            assert not column.lower().startswith(RESERVED_PREFIXES), (table, column)
            assert sqlglot.parse_one(f"CAST(NULL AS {bq_type})", read="bigquery"), (table, column, bq_type)


def test_views_resolve_against_the_bigquery_tables(world: World) -> None:
    """Each view, transpiled for BigQuery and parsed back as BigQuery, reads only columns that exist."""
    types = bigquery_types(world)
    for table, spec in INPUTS.items():  # the declared inputs are what the warehouse really has
        assert set(spec.columns) <= set(types.get(table, {})), (table, set(spec.columns) - set(types.get(table, {})))
    names = Names("marketing", "reporting", "my-project-1")
    schema: dict = {
        "my-project-1": {
            "marketing": {table: types[table] for table in INPUTS},
            "reporting": {"channel_map": dict.fromkeys(CHANNEL_MAP_COLUMNS, "STRING")},
        }
    }
    for view in VIEWS:
        tree, _ = resolve(view, names)
        parsed = sqlglot.parse_one(generate(tree, "bigquery"), read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
        resolved = qualify(parsed, schema=schema, dialect="bigquery", validate_qualify_columns=True)
        assert isinstance(resolved, exp.Query)
        assert resolved.named_selects == [c for c in world.columns(f"reporting.{view}")], view
        schema["my-project-1"]["reporting"][view] = dict.fromkeys(resolved.named_selects, "STRING")


def test_bigquery_sql_uses_bigquery_functions() -> None:
    """The spots where the dialects differ most come out in BigQuery's own spelling."""
    plan = build_plan("bigquery", Names(catalog="my-project-1"), None, [], location="EU")
    sql = "\n".join(plan.statements)
    assert "GENERATE_DATE_ARRAY(" in sql and "GENERATE_SERIES" not in sql
    assert "DATE_DIFF(" in sql and "SPLIT_PART" not in sql and "STRPOS" not in sql
    assert "CREATE SCHEMA IF NOT EXISTS `my-project-1`.`reporting` OPTIONS (location = 'EU')" in sql
    assert "CAST(NULL AS STRING)" in sql and "CAST(NULL AS TEXT)" not in sql


@pytest.mark.parametrize(
    "needle",
    [
        "[destination.bigquery]",
        "location",
        "project_id",
        "private_key",
        "client_email",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "loader_file_format",
        "--destination bigquery",
    ],
)
def test_readme_shows_the_bigquery_setup(needle: str) -> None:
    start = README.read_text(encoding="utf-8").index("### BigQuery setup")
    section = README.read_text(encoding="utf-8")[start:].split("\n## ", 1)[0]
    assert needle in section
