"""`[sources.humblytics]` is checked when the source is built: nothing is sent for a bad value."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.failures import find_cause
from sources.common.errors import ConfigError
from sources.common.stats import RUN_STATS
from sources.humblytics import check_limit, check_property, humblytics, settings


@pytest.mark.parametrize("value", [1, 50, "50", " 7 "])
def test_limit_within_the_documented_maximum(value: Any) -> None:
    assert 1 <= check_limit(value) <= 50


@pytest.mark.parametrize("value", [51, 0, -1, "51", "ten", 10.5, True, None])
def test_limit_outside_1_to_50_is_refused_not_clamped(value: Any) -> None:
    with pytest.raises(ConfigError, match="SOURCES__HUMBLYTICS__LIMIT"):
        check_limit(value)


@pytest.mark.parametrize("value", ["", "   ", None])
def test_property_id_must_not_be_empty(value: Any) -> None:
    with pytest.raises(ConfigError, match="SOURCES__HUMBLYTICS__PROPERTY_ID"):
        check_property(value)


def _build(**overrides: Any) -> Any:
    # A distinctive key: every key a client is built with is masked in every later message of the process.
    key = "unit-test-humblytics-key-7f3a"
    kwargs: dict[str, Any] = {"api_key": key, "property_id": "p", "base_url": "http://127.0.0.1:9/api/external/v1"}
    return humblytics(**(kwargs | overrides))


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"limit": 51}, "SOURCES__HUMBLYTICS__LIMIT"),
        ({"timezone": "Mars/Base"}, "SOURCES__HUMBLYTICS__TIMEZONE"),
        ({"property_id": " "}, "SOURCES__HUMBLYTICS__PROPERTY_ID"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"lookback_days": -1}, "lookback_days"),
        ({"api_key": ""}, "empty"),
    ],
)
def test_bad_configuration_is_refused_when_the_source_is_built(overrides: dict[str, Any], needle: str) -> None:
    RUN_STATS.reset()
    with pytest.raises(Exception) as caught:
        _build(**overrides)
    error = find_cause(caught.value, ConfigError)
    assert error is not None and needle in str(error)
    assert RUN_STATS.snapshot()["requests"] == {}


def test_a_valid_configuration_builds_the_six_resources() -> None:
    source = _build(timezone="America/New_York", limit=25)
    assert set(source.resources) == {
        settings.TRENDS_TABLE,
        settings.TRAFFIC_BREAKDOWN_TABLE,
        settings.CLICKS_BREAKDOWN_TABLE,
        settings.CLICKS_DETAILS_TABLE,
        settings.FORMS_BREAKDOWN_TABLE,
        settings.FORMS_DETAILS_TABLE,
    }
    details = source.resources[settings.CLICKS_DETAILS_TABLE]
    assert details.is_transformer and details._pipe.parent.name == settings.CLICKS_BREAKDOWN_TABLE
    assert source.resources[settings.TRENDS_TABLE].write_disposition == {
        "disposition": "merge",
        "strategy": "delete-insert",
    }
