"""`[sources.attributionhub]` is checked when the source is built, before any request."""

from __future__ import annotations

from typing import Any

import pytest

from sources.attributionhub import attributionhub
from sources.attributionhub.client import request_budget
from sources.attributionhub.segments import Segment, is_session_filtered, parse_conversion_filters, parse_segments
from sources.common.errors import ConfigError


def test_default_is_one_segment_all_without_filters() -> None:
    assert parse_segments(None) == (Segment("all"),)


def test_segments_keep_their_filters_in_a_stable_order() -> None:
    segments = parse_segments(
        [
            {"name": "all"},
            {"name": " google first ", "touch_scope": "first", "source": "google.com", "meta_type": "html_form"},
        ]
    )
    assert segments[1].name == "google first"
    assert segments[1].body() == {"source": "google.com", "meta_type": "html_form", "touch_scope": "first"}
    assert list(segments[1].body()) == ["source", "meta_type", "touch_scope"]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ([{"name": "x", "sourse": "google.com"}], "Unknown filter 'sourse'"),
        ([{"name": "x", "touch_scope": "last"}], "touch_scope 'last'"),
        ([{"name": "x", "touch_scope": "First"}], "touch_scope 'First'"),  # enum values are exact
        ([{"name": "x", "source": ""}], "non-empty string"),
        ([{"name": "x", "source": ["google.com"]}], "non-empty string"),
        ([{"source": "google.com"}], "needs a non-empty name"),
        ([{"name": "x"}, {"name": "x", "medium": "cpc"}], "used twice"),
        ([], "segments is empty"),
        ({"name": "x"}, "must be a list"),
        ("all", "must be a list"),
        (["all"], "segment 1 must be a table"),
    ],
)
def test_bad_segments_are_one_sentence_naming_the_env_var(value: Any, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_segments(value)
    assert needle in str(err.value) and "SOURCES__ATTRIBUTIONHUB__SEGMENTS" in str(err.value)
    assert "\n" not in str(err.value)


def test_conversion_filters_and_their_paging_mode() -> None:
    assert parse_conversion_filters(None) == {}
    assert not is_session_filtered({})
    conversion_level = parse_conversion_filters({"meta_type": "html_form"})
    assert not is_session_filtered(conversion_level)  # offset still counts records
    session_level = parse_conversion_filters({"medium": "cpc", "meta_id": "request-a-demo-form"})
    assert is_session_filtered(session_level)  # offset counts sessions (conversions document)


@pytest.mark.parametrize("value", [{"touch_scope": "first"}, {"campain": "x"}, ["medium"]])
def test_bad_conversion_filters_are_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="SOURCES__ATTRIBUTIONHUB__CONVERSION_FILTERS"):
        parse_conversion_filters(value)


@pytest.mark.parametrize("value", [0, -5, True, 2.5])
def test_a_request_budget_is_a_positive_whole_number(value: Any) -> None:
    with pytest.raises(ConfigError, match="SOURCES__ATTRIBUTIONHUB__MAX_REQUESTS_PER_RUN"):
        request_budget(value)
    assert request_budget(None) is None


def _build(**kwargs: Any) -> Any:
    config: dict[str, Any] = {"api_key": "k-123", "base_url": "https://attributionhub.example"}
    return attributionhub(**{**config, **kwargs})


@pytest.mark.parametrize("base_url", [None, "", "   "])
def test_base_url_is_required(base_url: Any) -> None:
    with pytest.raises(ConfigError) as err:
        _build(base_url=base_url)
    assert "Missing setting base_url for attributionhub: set SOURCES__ATTRIBUTIONHUB__BASE_URL" in str(err.value)


def test_base_url_must_be_a_url() -> None:
    with pytest.raises(ConfigError, match="must start with https://"):
        _build(base_url="attributionhub.example")


def test_a_valid_configuration_builds_both_resources() -> None:
    source = _build(segments=[{"name": "all"}, {"name": "paid", "medium": "cpc"}], lookback_days=5)
    assert set(source.resources) == {"attributionhub_conversions", "attributionhub_insights"}
