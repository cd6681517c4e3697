"""Fuzzing the date, range and config parsing: any input is either accepted as something valid or refused
with one ConfigError sentence (exit 2), never another exception (a traceback) and never a secret echoed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pendulum
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipelines.registry import SOURCES
from pipelines.runner import prepare
from pipelines.validation import (
    check_base_url,
    check_secret_value,
    parse_max_lag,
    parse_range,
    parse_sources,
)
from sources.common import clock
from sources.common.errors import ConfigError

TODAY = pendulum.date(2026, 11, 20)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

iso_like = st.dates().map(lambda d: d.isoformat())
texts = st.one_of(
    st.text(max_size=24),
    iso_like,
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.from_regex(r"\s*[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}\s*", fullmatch=True),
)


def one_sentence(error: ConfigError) -> None:
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, message


@FUZZ
@given(start=texts, end=texts)
def test_backfill_ranges_are_valid_or_one_sentence(start: str, end: str) -> None:
    with clock.pinned(TODAY):
        try:
            parsed = parse_range(start, end)
        except ConfigError as error:
            one_sentence(error)
            return
    assert parsed.start <= parsed.end <= TODAY
    assert (parsed.start.isoformat(), parsed.end.isoformat()) == (start, end)


@FUZZ
@given(value=st.one_of(st.none(), st.text(max_size=40), st.lists(st.sampled_from([*SOURCES, "x", " "])).map(",".join)))
def test_source_lists_are_known_names_or_one_sentence(value: str | None) -> None:
    try:
        specs = parse_sources(value)
    except ConfigError as error:
        one_sentence(error)
        return
    assert specs and all(spec.available for spec in specs) and len(specs) == len(set(specs))


@FUZZ
@given(value=st.one_of(st.none(), st.text(max_size=8), st.integers(-5, 10**6).map(str), st.booleans()))
def test_max_lag_is_a_whole_number_or_one_sentence(value: object) -> None:
    try:
        days = parse_max_lag(value)
    except ConfigError as error:
        one_sentence(error)
        return
    assert days is None or days >= 0


@FUZZ
@given(
    value=st.one_of(st.text(max_size=60), st.from_regex(r"(https?|ftp)://[a-z.:0-9]{0,20}(/[a-z/]*)?", fullmatch=True))
)
def test_base_urls_are_http_urls_or_one_sentence(value: str) -> None:
    try:
        accepted = check_base_url("SOURCES__X__BASE_URL", value)
    except ConfigError as error:
        one_sentence(error)
        return
    assert accepted.startswith(("http://", "https://")) and accepted == accepted.strip()


@FUZZ
@given(value=st.text(min_size=1, max_size=40))
def test_secrets_with_whitespace_are_refused_without_echoing_them(value: str) -> None:
    try:
        check_secret_value("SOURCES__X__API_KEY", value)
    except ConfigError as error:
        one_sentence(error)
        assert len(value.strip()) < 3 or value.strip() not in str(error)
        return
    assert value == value.strip() and value.isprintable()


@contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) env vars for one example and restore them after."""
    saved = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def setting(*valid: str) -> st.SearchStrategy[str | None]:
    """Unset, a valid value, or anything: most examples then get past the other keys to the one fuzzed."""
    return st.one_of(st.none(), st.sampled_from(valid), st.text(max_size=20))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start_date=st.one_of(st.none(), texts),
    lookback=setting("0", "3", "10"),
    hard_delete=setting("true", "false", "True", "0"),
    reports=setting('["totals"]', '["totals", "sources"]', '"totals"'),
    timezone=setting("UTC", "America/Los_Angeles", "Asia/Kolkata"),
)
def test_source_config_is_built_or_refused_never_a_bug(start_date, lookback, hard_delete, reports, timezone) -> None:
    """Building the HubSpot sources from arbitrary env values: a ConfigError or a source, nothing else."""
    values = {
        "SOURCES__HUBSPOT__ACCESS_TOKEN": "fuzz-token",
        "SOURCES__HUBSPOT__START_DATE": start_date,
        "SOURCES__HUBSPOT__LOOKBACK_DAYS": lookback,
        "SOURCES__HUBSPOT__HARD_DELETE": hard_delete,
        "SOURCES__HUBSPOT__REPORTS": reports,
        "SOURCES__HUBSPOT__TIMEZONE": timezone,
    }
    if any(v is not None and "\x00" in v for v in values.values()):
        return  # the OS refuses NUL in the environment before we could see it
    specs = [SOURCES["hubspot_analytics"], SOURCES["hubspot_leads"]]
    with environment(values), clock.pinned(TODAY):
        try:
            built = prepare(specs)
        except ConfigError as error:
            one_sentence(error)
            event("refused")
            return
    event("built")
    assert [spec.name for spec, _ in built] == ["hubspot_analytics", "hubspot_leads"]


@pytest.fixture(autouse=True)
def _no_stray_env() -> Iterator[None]:
    """The config fuzz sets env vars per example; none may leak into later tests."""
    before = {k: v for k, v in os.environ.items() if k.startswith("SOURCES__")}
    yield
    assert {k: v for k, v in os.environ.items() if k.startswith("SOURCES__")} == before
