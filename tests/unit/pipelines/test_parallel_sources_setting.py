"""`[marketing_elt] parallel_sources`: true by default, a boolean in any of its usual spellings, else one sentence."""

from __future__ import annotations

import pytest

from pipelines.runner import parallel_sources
from sources.common.errors import ConfigError

ENV = "MARKETING_ELT__PARALLEL_SOURCES"


@pytest.mark.parametrize(
    ("value", "expected"), [(None, True), ("true", True), ("False", False), ("0", False), ("on", True)]
)
def test_parallel_sources_reads_booleans(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool) -> None:
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    assert parallel_sources() is expected


def test_a_value_that_is_not_a_boolean_is_one_sentence_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "sometimes")
    with pytest.raises(ConfigError, match=f"parallel_sources must be true or false, got 'sometimes': fix {ENV}"):
        parallel_sources()
