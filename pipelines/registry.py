"""The sources a user can name with `--sources`, and what each needs before it may run."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SourceSpec:
    name: str  # the name users type, also the dlt source/schema name
    section: str  # the `[sources.<section>]` config section (dlt derives it from the package name)
    vendor: str  # the vendor key in request statistics
    factory: str  # "module:function" of the @dlt.source
    secrets: tuple[str, ...] = ()  # keys that must be set and non-empty
    required: tuple[str, ...] = ()  # non-secret keys with no safe default
    available: bool = True  # False while the vendor package is not built yet

    def env_var(self, key: str) -> str:
        return f"SOURCES__{self.section.upper()}__{key.upper()}"

    def load_factory(self) -> Callable[..., Any]:
        module, _, func = self.factory.partition(":")
        factory: Callable[..., Any] = getattr(importlib.import_module(module), func)
        return factory


SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec("hubspot_analytics", "hubspot", "hubspot", "sources.hubspot:hubspot_analytics", ("access_token",)),
        SourceSpec("hubspot_leads", "hubspot", "hubspot", "sources.hubspot:hubspot_leads", ("access_token",)),
        SourceSpec(
            "attributionhub",
            "attributionhub",
            "attributionhub",
            "sources.attributionhub:attributionhub",
            ("api_key",),
            ("base_url",),
        ),
        SourceSpec(
            "humblytics",
            "humblytics",
            "humblytics",
            "sources.humblytics:humblytics",
            ("api_key",),
            ("property_id",),
        ),
    )
}

DESTINATIONS = ("duckdb", "postgres", "bigquery")


def available_sources() -> list[str]:
    return [name for name, spec in SOURCES.items() if spec.available]
