"""Shared fixtures for the common-layer unit tests: scripted transports, a fake sleep, clean stats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sources.common.client import ApiClient
from sources.common.retry import RetryPolicy
from sources.common.stats import RUN_STATS

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler that answers with the next scripted reply and records every request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True)
def _clean_stats() -> Iterator[None]:
    RUN_STATS.reset()
    yield
    RUN_STATS.reset()


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def make_client(fake_sleep: FakeSleep) -> Iterator[Callable[..., tuple[ApiClient, Script]]]:
    made: list[ApiClient] = []

    def make(*replies: Reply, **kwargs: Any) -> tuple[ApiClient, Script]:
        script = Script(*replies)
        kwargs.setdefault("retry", RetryPolicy(jitter=False))
        kwargs.setdefault("sleep", fake_sleep)
        client = ApiClient(
            kwargs.pop("vendor", "hubspot"),
            kwargs.pop("base_url", "https://api.example.test"),
            kwargs.pop("auth", None),
            transport=httpx.MockTransport(script),
            **kwargs,
        )
        made.append(client)
        return client, script

    yield make
    for client in made:
        client.close()
