"""One small query interface over the warehouse, for code that runs inside a run and for `status`.

A run reads through dlt's SQL client (it holds the lock and may write). `status` must only read: it opens
DuckDB read-only (so it never creates a file) and Postgres directly, needing no pipeline, no dlt state
and no lock. Queries use `%s` placeholders; a table or dataset that does not exist raises `Missing`.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, Protocol

import duckdb
from dlt.common.destination.exceptions import DestinationUndefinedEntity

from sources.common.errors import MarketingEltError

from .failures import duckdb_lock_holder, one_line
from .preflight import connect_postgres, postgres_address, postgres_credentials

log = logging.getLogger("marketing_elt")


class Missing(Exception):
    """The dataset or table asked for does not exist (nothing was loaded there yet)."""


class Unreadable(MarketingEltError):
    """The warehouse exists but cannot be read now (locked by a writer, server down)."""


class Reader(Protocol):
    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]: ...

    def qualify(self, table: str) -> str: ...


def plain(value: Any) -> Any:
    """pendulum values as the stdlib types every driver adapts."""
    if isinstance(value, dt.datetime):
        return dt.datetime.fromtimestamp(value.timestamp(), tz=dt.UTC)
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    return value


class ClientReader:
    """Reads through an open dlt SQL client (inside a run)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        try:
            return [tuple(row) for row in self.client.execute_sql(sql, *map(plain, params)) or []]
        except DestinationUndefinedEntity as exc:
            raise Missing(str(exc)) from None

    def qualify(self, table: str) -> str:
        return str(self.client.make_qualified_table_name(table))


class DuckDBReader:
    """A read-only connection to an existing DuckDB file."""

    def __init__(self, path: Path, dataset: str) -> None:
        self.path, self.dataset = path, dataset
        try:
            self.con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            holder = duckdb_lock_holder(str(exc))
            if holder is not None:
                raise Unreadable(
                    f"The warehouse file {path} is being written by another process ({holder[1]}, PID {holder[2]}; "
                    "a run's load step holds it for seconds to minutes): run status again shortly."
                ) from None
            raise Unreadable(f"The warehouse file {path} cannot be read: {one_line(str(exc))}.") from None

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql.replace("%s", "?"), [plain(p) for p in params]).fetchall()
        except duckdb.CatalogException as exc:
            raise Missing(str(exc)) from None

    def qualify(self, table: str) -> str:
        return f'"{self.dataset}"."{table}"'

    def close(self) -> None:
        self.con.close()


class PostgresReader:
    """A read-only (autocommit, SELECT only) psycopg2 connection."""

    def __init__(self, dataset: str) -> None:
        credentials = postgres_credentials()
        self.address = postgres_address(credentials)
        try:
            self.con = connect_postgres(credentials)
        except MarketingEltError as exc:
            raise Unreadable(str(exc)) from None
        self.con.autocommit = True
        self.dataset = dataset

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg2

        try:
            with self.con.cursor() as cur:
                cur.execute(sql, [plain(p) for p in params])
                rows: list[tuple[Any, ...]] = cur.fetchall()
                return rows
        except (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName) as exc:
            raise Missing(str(exc)) from None
        except psycopg2.OperationalError as exc:
            raise Unreadable(f"Lost the connection to Postgres at {self.address}: {one_line(str(exc))}") from None

    def qualify(self, table: str) -> str:
        return f'"{self.dataset}"."{table}"'

    def close(self) -> None:
        self.con.close()
