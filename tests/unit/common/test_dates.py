"""Strict config dates, fuzzed: either the exact date back, or a ConfigError."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.common import clock
from sources.common.dates import parse_date, parse_timezone, resolve_start_date, yesterday
from sources.common.errors import ConfigError


def test_parse_date_valid():
    assert parse_date("2024-02-29") == pendulum.date(2024, 2, 29)
    assert isinstance(parse_date("2024-02-29"), pendulum.Date)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30",
        "2025-02-29",
        "2026-13-01",
        "2026-00-10",
        "0000-01-01",
        "2026-1-1",
        "20260101",
        "2026/01/01",
        "2026-01-01T00:00:00",
        " 2026-01-01",
        "2026-01-01\n",
        "",
        "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0661",  # Arabic-Indic digits
        "yesterday",
    ],
)
def test_parse_date_rejects_with_config_error_naming_what_and_value(text):
    with pytest.raises(ConfigError) as caught:
        parse_date(text, "backfill start")
    assert "backfill start" in str(caught.value)
    assert repr(text) in str(caught.value)


def test_parse_date_rejects_non_strings():
    with pytest.raises(ConfigError):
        parse_date(20260101)  # type: ignore[arg-type]


@given(st.text(max_size=14))
def test_parse_date_fuzz_arbitrary_text(text):
    try:
        parsed = parse_date(text)
    except ConfigError:
        return
    assert parsed.isoformat() == text


@given(st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True))
def test_parse_date_fuzz_date_shaped_text(text):
    try:
        real = dt.date.fromisoformat(text)  # strict for this shape; year 0 and 2026-02-30 raise
    except ValueError:
        real = None
    try:
        parsed = parse_date(text)
    except ConfigError:
        assert real is None, f"{text!r} is a real date and was refused"
        return
    assert parsed == real and parsed.isoformat() == text


@given(st.dates())
def test_parse_date_round_trips_every_real_date(day):
    assert parse_date(day.isoformat()) == day


def test_resolve_start_date_and_yesterday_follow_the_clock():
    with clock.pinned(pendulum.datetime(2026, 3, 1, 0, 30)):
        assert resolve_start_date(None, 30) == pendulum.date(2026, 1, 30)
        assert resolve_start_date("", 1) == pendulum.date(2026, 2, 28)
        assert resolve_start_date("2025-06-01", 30) == pendulum.date(2025, 6, 1)
        assert resolve_start_date(dt.date(2025, 6, 1), 30) == pendulum.date(2025, 6, 1)
        assert yesterday() == pendulum.date(2026, 2, 28)
    with pytest.raises(ConfigError, match="start_date"):
        resolve_start_date("2025-06-31", 30)
    with pytest.raises(ConfigError, match="start_date"):
        resolve_start_date(dt.datetime(2025, 6, 1, 12), 30)


def test_yesterday_is_counted_in_the_given_timezone() -> None:
    with clock.pinned(pendulum.datetime(2026, 11, 20, 2, 0, tz="UTC")):
        assert yesterday() == pendulum.date(2026, 11, 19)
        # 18:00 on the 19th in Los Angeles: the 19th is not over there yet
        assert yesterday("America/Los_Angeles") == pendulum.date(2026, 11, 18)
        assert yesterday("Asia/Tokyo") == pendulum.date(2026, 11, 19)


def test_parse_timezone_refuses_unknown_names() -> None:
    assert parse_timezone(" Europe/Berlin ") == "Europe/Berlin"
    with pytest.raises(ConfigError, match="SOURCES__HUBSPOT__TIMEZONE 'Mars/Base'"):
        parse_timezone("Mars/Base", "SOURCES__HUBSPOT__TIMEZONE")
