"""Config dates: strict parsing and the default start date, all on the project clock."""

from __future__ import annotations

import datetime as dt
import re

import pendulum

from . import clock
from .errors import ConfigError

# ASCII digits only: `\d` would accept other scripts' digits, and `$` a trailing newline.
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def parse_date(text: str, what: str = "date") -> pendulum.Date:
    """`YYYY-MM-DD` to a date; anything else (other formats, 2026-02-30) raises ConfigError naming `what`."""
    match = _ISO_DATE.fullmatch(text) if isinstance(text, str) else None
    if match is not None:
        try:
            return pendulum.Date(*(int(part) for part in match.groups()))
        except ValueError:
            pass
    raise ConfigError(f"The {what} {text!r} is not a real calendar date in YYYY-MM-DD form (e.g. 2025-01-31).")


def resolve_start_date(value: str | dt.date | None, default_days_ago: int) -> pendulum.Date:
    """The configured `start_date` (string or TOML date), or `default_days_ago` days before today (UTC)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return clock.today().subtract(days=default_days_ago)
    if isinstance(value, dt.datetime):
        raise ConfigError(f"The start_date {value.isoformat()!r} must be a date (YYYY-MM-DD), not a timestamp.")
    if isinstance(value, dt.date):
        return pendulum.Date(value.year, value.month, value.day)
    return parse_date(value.strip(), "start_date")


def yesterday(tz: str = "UTC") -> pendulum.Date:
    """Yesterday in `tz`: the last complete day a nightly run loads for a vendor that counts days in `tz`."""
    return clock.today(tz).subtract(days=1)


def parse_timezone(name: str, what: str = "timezone") -> str:
    """An IANA zone name, checked before any request (a typo would otherwise shift every day boundary)."""
    try:
        pendulum.timezone(str(name).strip())
    except Exception:
        raise ConfigError(f"{what} {name!r} is not an IANA timezone name (e.g. UTC, America/New_York).") from None
    return str(name).strip()
