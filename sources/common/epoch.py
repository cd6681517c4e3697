"""Epoch milliseconds, the unit of Leads v1 timestamps and cursors (hubspot-leads-api.txt), in one place."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

# 1973-03-03 in ms: no other value we keep (dates, counts, offsets) is an integer this large.
EPOCH_MS_FLOOR = 10**11


def day_to_epoch_ms(day: dt.date) -> int:
    """Midnight UTC of `day` in epoch milliseconds."""
    return int(pendulum.datetime(day.year, day.month, day.day, tz="UTC").timestamp() * 1000)


def instant_to_epoch_ms(moment: dt.datetime) -> int:
    """An aware instant in epoch milliseconds (truncated)."""
    return int(pendulum.instance(moment).timestamp() * 1000)


def epoch_ms_to_datetime(value: int) -> pendulum.DateTime:
    """Epoch milliseconds to a UTC instant."""
    return pendulum.from_timestamp(value / 1000, tz="UTC")


def readable(value: Any) -> Any:
    """An epoch-ms integer as an ISO UTC timestamp for people; anything else unchanged."""
    if isinstance(value, int) and not isinstance(value, bool) and value > EPOCH_MS_FLOOR:
        return epoch_ms_to_datetime(value).isoformat()
    return value
