"""Date cursors and complete days: what every daily resource asks "which days do I read tonight?".

- nightly: `dlt.sources.incremental` from a lookback before the last loaded day (`lag`: vendors restate
  recent days, and late data arrives), never before `start_date`. `lookback_days` counts the days already
  loaded that a nightly reads again, so each day is read once it is complete and again on each of the
  `lookback_days` nights after; a day's numbers are final once a vendor's lateness has passed, and not
  read again after that;
- backfill `(first, last)`: `initial_value`/`end_value`, which makes dlt use a throw-away state, so the
  nightly cursor is neither read nor moved (dlt/extract/incremental: `end_value` means stateless);
- either way a day is read only once it is over in the vendor's reporting timezone (yesterday there),
  and each row carries `_loaded_at`, the instant the run read it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, TypeVar

import dlt
import pendulum
from dlt.extract.incremental import Incremental

from . import clock
from .dates import yesterday
from .errors import ConfigError
from .windows import DateWindow

T = TypeVar("T")
LOADED_AT = "_loaded_at"
# An inclusive range of days a backfill loads.
Backfill = tuple[pendulum.Date, pendulum.Date]


def backfill_range(start: pendulum.Date | None, end: pendulum.Date | None) -> Backfill | None:
    """A source's `backfill_start`/`backfill_end` arguments as one range: both or neither."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise ConfigError("A backfill needs both its first and its last day.")
    return start, end


def _same(day: pendulum.Date) -> Any:
    return day


def date_cursor(
    cursor_path: str,
    *,
    start_date: pendulum.Date,
    backfill: Backfill | None,
    lookback_days: int = 0,
    encode: Callable[[pendulum.Date], Any] = _same,
    primary_key: str | tuple[str, ...] = (),
) -> Incremental[Any]:
    """The cursor of a resource whose `cursor_path` holds days (or, with `encode`, instants such as epoch ms).

    A backfill's `end_value` is the day after `last`, exclusive (`range_end="open"`): one representation
    for date and instant cursors alike. `lag` on a date cursor counts days and never steps before
    `initial_value` (dlt/extract/incremental/lag.py). dlt's cursor already starts at the last loaded day
    (inclusive), so `lag` is one less than `lookback_days`: 0 and 1 both re-read that one day.
    `primary_key=()` leaves deduplication to the merge.
    """
    if int(lookback_days) < 0:
        raise ConfigError(f"lookback_days must be 0 or more, got {lookback_days}.")
    if backfill is not None:
        first, last = backfill
        if first > last:
            raise ConfigError(f"Backfill start {first} is after its end {last}.")
        return dlt.sources.incremental(
            cursor_path,
            initial_value=encode(first),
            end_value=encode(last.add(days=1)),
            range_end="open",
            primary_key=primary_key,
        )
    return dlt.sources.incremental(
        cursor_path,
        initial_value=encode(start_date),
        lag=max(int(lookback_days) - 1, 0) or None,
        primary_key=primary_key,
    )


def as_date(value: dt.date) -> pendulum.Date:
    """A cursor value (date or datetime) as a calendar date."""
    return pendulum.Date(value.year, value.month, value.day)


def complete_days(cursor: Incremental[Any], timezone: str = "UTC") -> DateWindow | None:
    """The days a date cursor reads now: from its start through yesterday in `timezone`, clamped by a
    backfill's end; None when nothing is complete yet (then no request is sent).

    Today is still being counted and the future has nothing, so a backfill stops at yesterday too.
    """
    if cursor.start_value is None:
        raise ValueError("a date cursor always has a start value (its initial_value)")
    first = as_date(cursor.start_value)
    last = yesterday(timezone)
    if cursor.end_value is not None:
        last = min(last, as_date(cursor.end_value).subtract(days=1))
    return DateWindow(first, last) if first <= last else None


def stamp_loaded_at(rows: Iterable[MutableMapping[str, Any]], at: pendulum.DateTime | None = None) -> None:
    """Mark rows with `_loaded_at` (default: now): when a restated or late number was last read."""
    moment = at or clock.now()
    for row in rows:
        row[LOADED_AT] = moment
