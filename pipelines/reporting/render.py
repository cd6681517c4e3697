"""The views' SQL for one warehouse: real schema names, stand-ins for what is absent, the destination's dialect.

The `.sql` files name two logical schemas, `marketing` (where the sources load) and `reporting` (the
views); both become the configured names here. A source table that does not exist yet (its source never
ran here, or is not configured) becomes a typed, empty relation, and a column a vendor never sent becomes a
typed NULL: the view still answers, with NULL (not loaded) for that part. Pure functions, no connection:
the BigQuery checks run them offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from .inputs import INPUTS
from .settings import SOURCE_DIALECT, VIEWS_DIR

LOGICAL_DATASET, LOGICAL_REPORTING = "marketing", "reporting"

# Tables present in the warehouse: table -> its columns. None = assume everything is there.
Present = Mapping[str, set[str]] | None


@dataclass(frozen=True)
class Names:
    """Where things are in one warehouse."""

    dataset: str = LOGICAL_DATASET  # the schema/dataset every source loads into
    reporting: str = LOGICAL_REPORTING  # the schema/dataset of the views
    catalog: str | None = None  # BigQuery's project; None elsewhere (DuckDB views resolve in their own file)

    def table(self, name: str, *, reporting: bool = False) -> exp.Table:
        # quoted: a BigQuery project id has dashes, and a configured dataset name may be anything
        return exp.table_(name, db=self.reporting if reporting else self.dataset, catalog=self.catalog, quoted=True)


@dataclass
class Rendered:
    view: str
    sql: str  # one SELECT in the destination's dialect
    absent: dict[str, list[str]] = field(default_factory=dict)  # source -> its tables that do not exist
    missing_columns: dict[str, list[str]] = field(default_factory=dict)  # table -> declared columns it lacks


class RenderError(Exception):
    """A view names a table `inputs.INPUTS` does not declare (a bug in the views, caught by the tests)."""


@cache
def view_source(view: str) -> str:
    return (VIEWS_DIR / f"{view}.sql").read_text(encoding="utf-8")


@cache
def _parsed(view: str) -> exp.Query:
    parsed = sqlglot.parse_one(view_source(view), read=SOURCE_DIALECT)
    if not isinstance(parsed, exp.Query):
        raise RenderError(f"views/{view}.sql must hold one SELECT, not {type(parsed).__name__}")
    return parsed


def parsed_view(view: str) -> exp.Query:
    """A fresh copy of the view's parsed SQL (the cached tree is never modified)."""
    return _parsed(view).copy()


def sql_type(type_name: str) -> exp.DataType:
    return exp.DataType.build(type_name, dialect=SOURCE_DIALECT)


def stand_in(table: str, names: Names, existing: set[str] | None) -> exp.Select:
    """The declared columns of `table`: from the table where they exist, typed NULLs where they do not;
    no rows at all when the table does not exist (`existing` None)."""
    columns = INPUTS[table].columns
    select = exp.select(
        *(
            exp.column(column)
            if existing is not None and column in existing
            else exp.alias_(exp.cast(exp.null(), sql_type(type_name)), column)
            for column, type_name in columns.items()
        )
    )
    if existing is None:
        return select.where(exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0)))
    return select.from_(names.table(table))


def resolve(view: str, names: Names, present: Present = None) -> tuple[exp.Query, Rendered]:
    """The view's tree with real names and stand-ins, and what was absent."""
    tree = parsed_view(view)
    rendered = Rendered(view, "")
    for table in list(tree.find_all(exp.Table)):
        schema = table.db
        if schema == LOGICAL_REPORTING:
            table.replace(_aliased(names.table(table.name, reporting=True), table))
            continue
        if schema != LOGICAL_DATASET:
            continue  # a CTE
        if table.name not in INPUTS:
            raise RenderError(f"views/{view}.sql reads marketing.{table.name}, which inputs.INPUTS does not declare")
        declared = INPUTS[table.name]
        if present is None:
            table.replace(_aliased(names.table(table.name), table))
            continue
        existing = present.get(table.name)
        if existing is None:
            rendered.absent.setdefault(declared.source, []).append(table.name)
        missing = [c for c in declared.columns if existing is not None and c not in existing]
        if missing:
            rendered.missing_columns[table.name] = missing
        if existing is None or missing:
            alias = table.alias or table.name
            replacement = exp.Subquery(
                this=stand_in(table.name, names, existing), alias=exp.TableAlias(this=exp.to_identifier(alias))
            )
            table.replace(replacement)
        else:
            table.replace(_aliased(names.table(table.name), table))
    for source in rendered.absent:
        rendered.absent[source] = sorted(set(rendered.absent[source]))
    return tree, rendered


def _aliased(new: exp.Table, old: exp.Table) -> exp.Table:
    """`new`, keeping the alias `old` had (or its bare name, which the SQL may use to qualify columns)."""
    new.set("alias", exp.TableAlias(this=exp.to_identifier(old.alias or old.name)))
    return new


def render_view(view: str, dialect: str, names: Names, present: Present = None) -> Rendered:
    """The view's SELECT for `dialect` (duckdb, postgres, bigquery). Raises sqlglot.errors.UnsupportedError
    when sqlglot cannot express something in that dialect, rather than writing SQL that means something else."""
    tree, rendered = resolve(view, names, present)
    rendered.sql = generate(tree, dialect)
    return rendered


def generate(tree: exp.Expr, dialect: str) -> str:
    return tree.sql(dialect=dialect, pretty=True, comments=False, unsupported_level=ErrorLevel.RAISE)
