"""`marketing-elt report` and `marketing-elt publish`: their arguments and what they do.

Kept out of pipelines/cli.py so that file only registers them. Imports stay lazy (plotly, sqlglot and
dlt load only when a command runs): `marketing-elt --help` must stay fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXIT_OK = 0
Query = Callable[[str], list[tuple[Any, ...]]]
DEFAULT_REPORT = "report.html"


def add_parsers(commands: Any) -> None:
    """Register both subcommands on the CLI's subparsers."""
    report = commands.add_parser(
        "report",
        help="write one self-contained HTML page (charts and tables) from the reporting views",
        description=(
            "Write one HTML page from the reporting views: daily traffic by source system, channels over time, "
            "conversions, leads and each source's freshness. Self-contained (no server, no network); reads "
            "the warehouse read-only."
        ),
    )
    report.add_argument("--out", default=DEFAULT_REPORT, help=f"the HTML file to write (default {DEFAULT_REPORT})")
    report.add_argument("--destination", default="duckdb", help="duckdb (default), postgres or bigquery")

    publish = commands.add_parser(
        "publish",
        help="write a read-only copy of the DuckDB warehouse for BI tools",
        description=(
            "Copy the DuckDB warehouse (tables and reporting views) to a read-only file BI tools can keep open "
            "without blocking the nightly. Set MARKETING_ELT__PUBLISH_PATH to publish after every run."
        ),
    )
    publish.add_argument("--to", help="the copy's path (default: MARKETING_ELT__PUBLISH_PATH)")


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.validation import check_destination, parse_destination

    from .html_report import collect, write

    destination = parse_destination(args.destination)
    check_destination(destination)
    with _views_query(destination) as (query, reporting, where):
        data = collect(query, reporting, where)
    out = write(data, Path(args.out).expanduser())
    empty = [row["source"] for row in data.freshness if not row["rows_loaded"]]
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): open it in a browser.")
    if empty:
        print(f"note: nothing loaded yet from {', '.join(empty)}; their parts of the report are empty.")
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from dlt.common.pipeline import get_dlt_pipelines_dir

    from pipelines.lock import run_lock
    from pipelines.warehouse import duckdb_path
    from sources.common.errors import ConfigError

    from .publish import publish
    from .settings import publish_path

    target = Path(args.to).expanduser() if args.to else publish_path()
    if target is None:
        raise ConfigError("Where to? Pass --to PATH or set MARKETING_ELT__PUBLISH_PATH ([marketing_elt] publish_path).")
    warehouse = duckdb_path()
    data_dir = Path(get_dlt_pipelines_dir()).parent
    # the run lock: never copy between two sources of a run (a run publishes by itself at its end)
    with run_lock(data_dir, warehouse, args.command_line):
        result = publish(warehouse, target)
    print(result.note)
    return EXIT_OK


@contextmanager
def _views_query(destination: str) -> Iterator[tuple[Query, str, str]]:
    """(query, quoted reporting schema, where) for `destination`, read-only where the warehouse allows it.

    Queries are written for DuckDB and transpiled; a missing view becomes one sentence saying what to do.
    """
    import sqlglot
    from sqlglot import exp

    from pipelines.readers import DuckDBReader, Missing, PostgresReader
    from pipelines.warehouse import dataset_name, duckdb_path
    from sources.common.errors import MarketingEltError

    from .settings import SOURCE_DIALECT, reporting_dataset

    def transpiled(sql: str) -> str:
        return sqlglot.transpile(sql, read=SOURCE_DIALECT, write=destination)[0]

    schema = exp.to_identifier(reporting_dataset(), quoted=True)
    if destination == "bigquery":  # no read-only reader: dlt's client, as the load uses
        from .refresh import reporting_pipeline

        with reporting_pipeline(destination).sql_client() as client:
            project = client.catalog_name(quote=False)
            qualified = exp.Table(this=schema, db=exp.to_identifier(project, quoted=True) if project else None)
            yield (
                lambda sql: [tuple(row) for row in client.execute_sql(transpiled(sql)) or []],
                qualified.sql(SOURCE_DIALECT),
                f"BigQuery project {project}",
            )
        return
    if destination == "duckdb":
        path = duckdb_path()
        if not path.exists():
            raise MarketingEltError(f"There is no warehouse at {path} yet: run `marketing-elt run` first.")
        reader: DuckDBReader | PostgresReader = DuckDBReader(path, dataset_name())
        where = str(path)
    else:
        reader = PostgresReader(dataset_name())
        where = f"Postgres at {reader.address}"

    def query(sql: str) -> list[tuple[Any, ...]]:
        try:
            return list(reader.query(transpiled(sql)))
        except Missing:
            raise MarketingEltError(
                f"{where} has no reporting views yet: they are created after each successful load "
                "(run `marketing-elt run`)."
            ) from None

    try:
        yield query, schema.sql(SOURCE_DIALECT), where
    finally:
        reader.close()
