"""Before the first vendor request: is the destination there and ours to write?

A warehouse that cannot be written (a DuckDB file a BI tool holds open, a Postgres server that is down)
would otherwise be found only after every vendor was read, with dlt's generic "check your credentials"
text. Each check fails with one sentence naming the real cause and what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from sources.common.errors import ConfigError, MarketingEltError

from .failures import duckdb_lock_holder, one_line, warehouse_busy_message
from .warehouse import duckdb_path

log = logging.getLogger("marketing_elt")
CONNECT_TIMEOUT_S = 10


class DestinationUnavailable(MarketingEltError):
    """The warehouse cannot be reached or written right now; nothing was requested (exit 2)."""


def check_warehouse_location(destination: str) -> None:
    """Before anything is created: a DuckDB file must be in an existing directory (nothing is opened here)."""
    path = duckdb_path()
    if destination == "duckdb" and not path.parent.is_dir():
        raise ConfigError(
            f"The warehouse file {path} cannot be created: {path.parent} is not a directory "
            "(set DESTINATION__DUCKDB__CREDENTIALS to a path in an existing directory)."
        )


def check_warehouse(destination: str) -> None:
    """Open the destination once, briefly, the way the load will (under the run lock)."""
    if destination == "duckdb":
        check_duckdb(duckdb_path())
    elif destination == "postgres":
        check_postgres()


def check_duckdb(path: Path) -> None:
    if not path.exists():
        return  # the first load creates it
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error as exc:
        holder = duckdb_lock_holder(str(exc))
        if holder is not None:
            raise DestinationUnavailable(warehouse_busy_message(str(path), holder[1], holder[2])) from None
        raise DestinationUnavailable(
            f"The warehouse file {path} cannot be opened ({one_line(str(exc))}): check the file and its permissions."
        ) from None


def postgres_credentials() -> PostgresCredentials:
    """`DESTINATION__POSTGRES__CREDENTIALS` (a DSN) or `[destination.postgres.credentials]` (a table)."""
    value: Any = dlt.secrets.get("destination.postgres.credentials")
    credentials = PostgresCredentials()
    if isinstance(value, str):
        credentials.parse_native_representation(value.strip())
    elif isinstance(value, Mapping):
        credentials.update(dict(value))
    else:
        raise ConfigError("Missing Postgres credentials: set DESTINATION__POSTGRES__CREDENTIALS.")
    return credentials


def postgres_address(credentials: PostgresCredentials) -> str:
    """host:port/database, never the password."""
    return f"{credentials.host}:{credentials.port or 5432}/{credentials.database}"


def connect_postgres(credentials: PostgresCredentials | None = None) -> Any:
    """A psycopg2 connection, or DestinationUnavailable naming the server (never the password)."""
    import psycopg2

    credentials = credentials or postgres_credentials()
    try:
        return psycopg2.connect(credentials.to_native_representation(), connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg2.Error as exc:
        log.debug("postgres connection failed", exc_info=True)
        reason = one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        raise DestinationUnavailable(
            f"Cannot connect to Postgres at {postgres_address(credentials)} ({reason}): start the server or fix "
            "DESTINATION__POSTGRES__CREDENTIALS."
        ) from None


def check_postgres() -> None:
    connect_postgres().close()
