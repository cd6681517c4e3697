"""Refuse bad input before any vendor request is sent or any pipeline state is created."""

from __future__ import annotations

from dataclasses import dataclass

import dlt
import pendulum

from sources.common import clock
from sources.common.dates import parse_date
from sources.common.errors import ConfigError

from .registry import DESTINATIONS, SOURCES, SourceSpec, available_sources


@dataclass(frozen=True)
class DateRange:
    start: pendulum.Date
    end: pendulum.Date  # inclusive


def parse_sources(value: str | None) -> list[SourceSpec]:
    """`None` means every source that is built; names are checked and de-duplicated in order."""
    if value is None:
        return [SOURCES[name] for name in available_sources()]
    names = [part.strip() for part in value.split(",") if part.strip()]
    if not names:
        raise ConfigError(f"--sources is empty: name one or more of {', '.join(SOURCES)}.")
    specs: list[SourceSpec] = []
    for name in names:
        spec = SOURCES.get(name)
        if spec is None:
            raise ConfigError(f"Unknown source '{name}': choose from {', '.join(SOURCES)}.")
        if not spec.available:
            raise ConfigError(
                f"The {name} source is not available in this version yet: "
                f"run with --sources {','.join(available_sources())}."
            )
        if spec not in specs:
            specs.append(spec)
    return specs


def parse_destination(value: str | None) -> str:
    destination = (value or "duckdb").strip().lower()
    if destination not in DESTINATIONS:
        raise ConfigError(f"Unknown destination '{value}': choose one of {', '.join(DESTINATIONS)}.")
    return destination


def check_destination(destination: str) -> None:
    """Destination credentials and drivers must be there before a pipeline is created."""
    if destination == "postgres":
        credentials = dlt.secrets.get("destination.postgres.credentials")
        if not credentials or (isinstance(credentials, str) and not credentials.strip()):
            raise ConfigError(
                "Missing Postgres credentials: set DESTINATION__POSTGRES__CREDENTIALS="
                "postgresql://user:password@host:5432/database or [destination.postgres] credentials in secrets.toml."
            )
    if destination == "bigquery":
        try:
            import google.cloud.bigquery  # noqa: F401
        except ImportError:
            raise ConfigError(
                "The BigQuery client is not installed: run `.venv/bin/pip install -e '.[bigquery]'`."
            ) from None


def parse_range(start: str, end: str) -> DateRange:
    """An inclusive backfill range: valid dates, start <= end, end not after today (UTC)."""
    first = parse_date(start, "--start")
    last = parse_date(end, "--end")
    if first > last:
        raise ConfigError(f"--start {first} is after --end {last}: swap them or fix the range.")
    today = clock.today()
    if last > today:
        raise ConfigError(f"--end {last} is in the future (today is {today} UTC): end the range today or earlier.")
    return DateRange(first, last)


def check_config(specs: list[SourceSpec]) -> None:
    """Every secret and required key must resolve (env var or .dlt files) before we start."""
    for spec in specs:
        wanted = [(key, dlt.secrets, "secret", "secrets.toml") for key in spec.secrets]
        wanted += [(key, dlt.config, "setting", "config.toml") for key in spec.required]
        for key, accessor, kind, file in wanted:
            value = accessor.get(f"sources.{spec.section}.{key}")
            if value is None or not str(value).strip():
                raise ConfigError(
                    f"Missing {kind} {key} for {spec.name}: set {spec.env_var(key)} "
                    f"or [sources.{spec.section}] {key} in .dlt/{file}."
                )
