"""Configuration of what is asked: insights `segments` and the optional `conversion_filters`.

Checked when the source is built, before any request: a typo in a filter name would otherwise be ignored
by the vendor ("unknown keys are ignored") and silently load unfiltered numbers under a filtered name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sources.common.errors import ConfigError

from . import settings

SEGMENTS_ENV = "SOURCES__ATTRIBUTIONHUB__SEGMENTS"
FILTERS_ENV = "SOURCES__ATTRIBUTIONHUB__CONVERSION_FILTERS"
INSIGHT_FILTERS = (*settings.SESSION_FILTERS, *settings.CONVERSION_FILTERS, settings.TOUCH_SCOPE)
CONVERSIONS_FILTERS = (*settings.SESSION_FILTERS, *settings.CONVERSION_FILTERS)


@dataclass(frozen=True)
class Segment:
    """A named /insights cohort: its filters go into every request body of the segment."""

    name: str
    filters: tuple[tuple[str, str], ...] = ()

    def body(self) -> dict[str, str]:
        return dict(self.filters)


DEFAULT_SEGMENTS = (Segment(settings.DEFAULT_SEGMENT),)


def _filters(raw: Mapping[str, Any], allowed: Sequence[str], where: str, env: str) -> tuple[tuple[str, str], ...]:
    """Exact-match string filters (both documents: case-sensitive, AND-combined), in a stable order."""
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ConfigError(
            f"Unknown filter {', '.join(map(repr, unknown))} in {where}: use {', '.join(allowed)} ({env})."
        )
    out = []
    for key in allowed:
        if key not in raw:
            continue
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"Filter {key!r} in {where} must be a non-empty string, got {value!r} ({env}).")
        if key == settings.TOUCH_SCOPE and value not in settings.TOUCH_SCOPES:
            raise ConfigError(
                f"touch_scope {value!r} in {where} is not one of {', '.join(settings.TOUCH_SCOPES)} ({env})."
            )
        out.append((key, value))
    return tuple(out)


def parse_segments(value: Sequence[Mapping[str, Any]] | None) -> tuple[Segment, ...]:
    """`[{"name": "google", "source": "google.com", "touch_scope": "first"}, ...]`; unset: one segment `all`.

    Names are the warehouse key of a segment's rows, so they must be unique; renaming a segment starts a
    new series (the old rows stay under the old name).
    """
    if value is None:
        return DEFAULT_SEGMENTS
    if isinstance(value, Mapping | str | bytes) or not isinstance(value, Sequence):
        raise ConfigError(
            f"segments must be a list of tables with a name and filters, e.g. "
            f'\'[{{"name": "all"}}, {{"name": "google", "source": "google.com"}}]\' ({SEGMENTS_ENV}).'
        )
    segments: list[Segment] = []
    for position, raw in enumerate(value, start=1):
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"segment {position} must be a table with a name and filters, got {raw!r} ({SEGMENTS_ENV})."
            )
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"segment {position} needs a non-empty name ({SEGMENTS_ENV}).")
        name = name.strip()
        if any(s.name == name for s in segments):
            raise ConfigError(f"segment name {name!r} is used twice: names must be unique ({SEGMENTS_ENV}).")
        filters = {k: v for k, v in raw.items() if k != "name"}
        segments.append(Segment(name, _filters(filters, INSIGHT_FILTERS, f"segment {name!r}", SEGMENTS_ENV)))
    if not segments:
        raise ConfigError(
            f"segments is empty: configure at least one, or unset it for the default 'all' ({SEGMENTS_ENV})."
        )
    return tuple(segments)


def parse_conversion_filters(value: Mapping[str, Any] | None) -> dict[str, str]:
    """Filters for /conversions (`{"source": "google.com"}`); unset: every conversion."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f'conversion_filters must be a table of filters, e.g. \'{{"medium": "cpc"}}\' ({FILTERS_ENV}).'
        )
    return dict(_filters(value, CONVERSIONS_FILTERS, "conversion_filters", FILTERS_ENV))


def is_session_filtered(filters: Mapping[str, str]) -> bool:
    """Session-level filters switch /conversions paging from records to sessions (conversions document)."""
    return any(key in settings.SESSION_FILTERS for key in filters)
