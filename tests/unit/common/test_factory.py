"""HTTP settings come from dlt config (env vars included) and bad values are refused with the key's name."""

from __future__ import annotations

import pytest

from sources.common.errors import ConfigError
from sources.common.factory import make_client, retry_policy
from sources.common.retry import RetryPolicy


def test_defaults_without_config() -> None:
    assert retry_policy() == RetryPolicy()


def test_env_vars_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETING_ELT__HTTP__MAX_ATTEMPTS", "2")
    monkeypatch.setenv("MARKETING_ELT__HTTP__MAX_TOTAL_WAIT_S", "5")
    monkeypatch.setenv("MARKETING_ELT__HTTP__TIMEOUT_S", "7.5")
    policy = retry_policy()
    assert (policy.max_attempts, policy.max_total_wait_s) == (2, 5.0)
    client = make_client("hubspot", "http://127.0.0.1:1", None)
    assert client.retry.max_attempts == 2
    assert client._http.timeout.read == 7.5


@pytest.mark.parametrize(("key", "value"), [("MAX_ATTEMPTS", "0"), ("BACKOFF_BASE_S", "-1"), ("TIMEOUT_S", "soon")])
def test_bad_values_name_the_env_var(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    monkeypatch.setenv(f"MARKETING_ELT__HTTP__{key}", value)
    with pytest.raises(ConfigError, match=f"MARKETING_ELT__HTTP__{key}"):
        make_client("hubspot", "http://127.0.0.1:1", None)
