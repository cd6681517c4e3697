"""Refuse bad input before any vendor request is sent or any pipeline state is created."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
            raise ConfigError(f"Unknown source {name!r}: choose from {', '.join(SOURCES)}.")
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
        raise ConfigError(f"Unknown destination {value!r}: choose one of {', '.join(DESTINATIONS)}.")
    return destination


def check_destination(destination: str) -> None:
    """Destination credentials and drivers must be there before a pipeline is created."""
    if destination == "postgres":
        credentials: Any = dlt.secrets.get("destination.postgres.credentials")
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
    """Every secret and required key must resolve (env var or .dlt files), and look usable, before we start.

    Generic over the registry, so every source (present and future) gets the same checks: a secret with
    whitespace around it (a newline from `echo` or a file) would be rejected by the vendor and retried as a
    network error, and a `base_url` that is not http(s) would fail the same way.
    """
    for spec in specs:
        wanted: list[tuple[str, Any, str, str]] = [(key, dlt.secrets, "secret", "secrets.toml") for key in spec.secrets]
        wanted += [(key, dlt.config, "setting", "config.toml") for key in spec.required]
        for key, accessor, kind, file in wanted:
            value: Any = accessor.get(f"sources.{spec.section}.{key}")
            if value is None or not str(value).strip():
                raise ConfigError(
                    f"Missing {kind} {key} for {spec.name}: set {spec.env_var(key)} "
                    f"or [sources.{spec.section}] {key} in .dlt/{file}."
                )
            if key in spec.secrets:
                check_secret_value(spec.env_var(key), str(value))
        base_url: Any = dlt.config.get(f"sources.{spec.section}.base_url")
        if base_url is not None:
            check_base_url(spec.env_var("base_url"), base_url)


def check_secret_value(name: str, value: str) -> None:
    """A secret must not carry whitespace at its ends or inside (the value itself is never shown)."""
    if value != value.strip():
        raise ConfigError(
            f"{name} has whitespace or a line break at its start or end (often the newline that ends a file): "
            "remove it; the vendor would reject the value."
        )
    if any(ch.isspace() for ch in value) or not value.isprintable():
        raise ConfigError(f"{name} contains spaces or control characters: paste the value again, exactly as issued.")


def check_base_url(name: str, value: object) -> str:
    """An absolute http(s) URL with a host; anything else would only fail later as a "network error"."""
    text = value if isinstance(value, str) else ""
    if text and text == text.strip() and text.isprintable():
        try:
            parsed = urlsplit(text)
            port_ok = parsed.port is None or parsed.port > 0
        except ValueError:
            parsed, port_ok = None, False
        if parsed is not None and port_ok and parsed.scheme in ("http", "https") and parsed.hostname:
            return text
    shown = value if isinstance(value, str) and len(value) <= 80 else type(value).__name__
    raise ConfigError(
        f"{name} is {shown!r}, which is not an http(s) URL: set it to the API address, e.g. https://api.example.com."
    )


def check_data_dir(path: str | os.PathLike[str]) -> None:
    """DLT_DATA_DIR (dlt's working state) must be a writable directory, or creatable; nothing is created here."""
    target = Path(path).expanduser().absolute()
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"DLT_DATA_DIR {target} cannot be created because {existing} is a file, not a directory: "
            "point DLT_DATA_DIR at a directory on persistent disk."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"DLT_DATA_DIR {target} is not writable ({existing} is read-only for this user): "
            "point DLT_DATA_DIR at a writable directory on persistent disk."
        )


def parse_max_lag(value: object, what: str = "--max-lag") -> int | None:
    """Days a resource may lag behind today before `status` exits 1; None (not set) disables the check."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isascii() or not text.isdigit():
        raise ConfigError(f"{what} must be a whole number of days (0 or more), got {value!r}.")
    return int(text)
