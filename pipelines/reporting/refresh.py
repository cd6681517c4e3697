"""Create or replace the reporting views (and reseed the channel map) in one warehouse.

Called after each successful load, so the views always match the tables. Runs through dlt's SQL client,
which knows every destination's connection; the statements come from `render` in the destination's
dialect. On DuckDB and Postgres everything happens in one transaction: a BI tool reading meanwhile sees
the old views or the new ones, never none. Postgres refuses `CREATE OR REPLACE VIEW` when a view's columns
changed (a new release of these views): the refresh then drops and recreates the views, still in one
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dlt
from sqlglot import exp

from pipelines.failures import one_line
from pipelines.warehouse import dataset_name, make_destination
from sources.common.errors import MarketingEltError

from .channels import HEADER, Rule, load_rules
from .inputs import CHANNEL_MAP_COLUMNS, INPUTS
from .render import Names, Present, Rendered, generate, render_view, sql_type
from .settings import CHANNEL_MAP_TABLE, VIEWS, channel_map_path, reporting_dataset

log = logging.getLogger("marketing_elt")
REPORTING_PIPELINE = "marketing_elt_reporting"  # used only for its SQL client when given a destination name


@dataclass
class RefreshResult:
    ok: bool
    views: list[str] = field(default_factory=list)
    absent: dict[str, list[str]] = field(default_factory=dict)  # source -> its tables that do not exist yet
    missing_columns: dict[str, list[str]] = field(default_factory=dict)  # table -> columns never sent
    error: str | None = None

    @property
    def notes(self) -> list[str]:
        """One line for the run report."""
        if not self.ok:
            return [f"reporting views were not refreshed: {self.error} The load itself is complete."]
        line = f"reporting views refreshed ({', '.join(self.views)})"
        if self.absent:
            parts = "; ".join(f"{source} ({', '.join(tables)})" for source, tables in sorted(self.absent.items()))
            line += f"; not loaded yet, so NULL in the views: {parts}"
        if self.missing_columns:
            columns = ", ".join(f"{t}.{c}" for t, cs in sorted(self.missing_columns.items()) for c in cs)
            line += f"; columns never sent, NULL in the views: {columns}"
        return [line + "."]


@dataclass(frozen=True)
class Plan:
    statements: list[str]
    rendered: list[Rendered]
    drops: list[str]  # for the retry after Postgres refused to replace a view


def refresh_views(target: Any, *, raise_errors: bool = False) -> RefreshResult:
    """`target`: the dlt pipeline that just loaded, or a destination name (duckdb, postgres, bigquery)."""
    try:
        rules = load_rules(channel_map_path())
        pipeline = target if isinstance(target, dlt.Pipeline) else reporting_pipeline(str(target))
        with pipeline.sql_client() as client:
            return refresh_with_client(client, rules)
    except Exception as exc:
        if raise_errors:
            raise
        log.debug("refreshing the reporting views failed", exc_info=True)
        reason = str(exc) if isinstance(exc, MarketingEltError) else f"{type(exc).__name__}: {one_line(str(exc), 300)}"
        return RefreshResult(ok=False, error=reason.rstrip(".") + ".")


def reporting_pipeline(destination: str) -> dlt.Pipeline:
    """A pipeline only for its SQL client on `destination` and the configured dataset (it never loads)."""
    return dlt.pipeline(
        pipeline_name=REPORTING_PIPELINE, destination=make_destination(destination), dataset_name=dataset_name()
    )


def refresh_with_client(client: Any, rules: Sequence[Rule]) -> RefreshResult:
    dialect = str(client.capabilities.sqlglot_dialect)
    names = Names(dataset=client.dataset_name, reporting=reporting_dataset(), catalog=client.catalog_name(quote=False))
    present = present_tables(client, dialect, names)
    plan = build_plan(dialect, names, present, rules, location=getattr(client, "location", None))
    execute(client, dialect, plan)
    absent: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    for rendered in plan.rendered:
        for source, tables in rendered.absent.items():
            absent[source] = sorted(set(absent.get(source, [])) | set(tables))
        missing.update(rendered.missing_columns)
    absent.pop("dlt", None)  # dlt's _dlt_loads exists after any load; absent only before the first
    return RefreshResult(ok=True, views=[r.view for r in plan.rendered], absent=absent, missing_columns=missing)


def present_tables(client: Any, dialect: str, names: Names) -> dict[str, set[str]]:
    """table -> columns of every table in the sources' dataset that the views may read."""
    if dialect == "bigquery":
        dataset = exp.table_("INFORMATION_SCHEMA", db=names.dataset, catalog=names.catalog, quoted=True)
        sql = f"SELECT table_name, column_name FROM {dataset.sql('bigquery')}.COLUMNS"
        rows = client.execute_sql(sql)
    else:
        sql = "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s"
        if dialect == "duckdb":  # other attached databases have their own schemas of the same name
            sql += " AND table_catalog = current_database()"
        rows = client.execute_sql(sql, names.dataset)
    present: dict[str, set[str]] = {}
    for table, column in rows or []:
        if table in INPUTS:
            present.setdefault(str(table), set()).add(str(column))
    return present


def build_plan(
    dialect: str, names: Names, present: Present, rules: Sequence[Rule], *, location: str | None = None
) -> Plan:
    """Every statement of one refresh, in order, in `dialect`."""
    schema = exp.Table(
        this=exp.to_identifier(names.reporting, quoted=True),
        db=exp.to_identifier(names.catalog, quoted=True) if names.catalog else None,
    ).sql(dialect)
    channel_map = names.table(CHANNEL_MAP_TABLE, reporting=True).sql(dialect)
    columns = ", ".join(
        f"{exp.to_identifier(name).sql(dialect)} {sql_type(type_name).sql(dialect)} NOT NULL"
        for name, type_name in CHANNEL_MAP_COLUMNS.items()
    )
    statements = []
    if dialect == "bigquery":
        # the views must live in the location of the tables they read
        options = f" OPTIONS (location = '{location}')" if location else ""
        statements += [
            f"CREATE SCHEMA IF NOT EXISTS {schema}{options}",
            f"CREATE OR REPLACE TABLE {channel_map} ({columns})",
        ]
    else:
        statements += [
            f"CREATE SCHEMA IF NOT EXISTS {schema}",
            f"CREATE TABLE IF NOT EXISTS {channel_map} ({columns})",
            f"DELETE FROM {channel_map}",
        ]
    if rules:
        insert = exp.insert(
            exp.values([rule.row() for rule in rules]),
            names.table(CHANNEL_MAP_TABLE, reporting=True),
            columns=list(HEADER),
        )
        statements.append(generate(insert, dialect))
    rendered = [render_view(view, dialect, names, present) for view in VIEWS]
    for view in rendered:
        qualified = names.table(view.view, reporting=True).sql(dialect)
        statements.append(f"CREATE OR REPLACE VIEW {qualified} AS\n{view.sql}")
    drops = [f"DROP VIEW IF EXISTS {names.table(view, reporting=True).sql(dialect)}" for view in reversed(VIEWS)]
    return Plan(statements, rendered, drops)


def execute(client: Any, dialect: str, plan: Plan) -> None:
    if dialect == "bigquery":  # no multi-statement transactions through dlt's BigQuery client
        for statement in plan.statements:
            client.execute_sql(statement)
        return
    try:
        _in_transaction(client, plan.statements)
    except Exception as exc:
        if dialect != "postgres":
            raise
        log.debug("replacing the reporting views failed (%s); dropping and recreating them", one_line(str(exc)))
        _in_transaction(client, [*plan.drops, *plan.statements])


def _in_transaction(client: Any, statements: Sequence[str]) -> None:
    with client.begin_transaction():
        for statement in statements:
            client.execute_sql(statement)
