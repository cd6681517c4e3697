"""The channel map: rules from a CSV file users edit, checked before they reach the warehouse.

A rule maps (source_system, medium, source) to one channel of the vocabulary; `*` matches any value.
The file, not the warehouse table, is the truth: every refresh reseeds `reporting.channel_map` from it,
so an edit takes effect at the next load and lives in version control. A typo in a channel name would
silently move traffic to a channel nobody charts, so unknown channels and contradicting rules are refused
with the file's line number.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from sources.common.errors import ConfigError

from .settings import ANY, CHANNELS, SOURCE_SYSTEMS

HEADER = ("source_system", "medium", "source", "channel")


@dataclass(frozen=True)
class Rule:
    source_system: str
    medium: str
    source: str
    channel: str

    def row(self) -> tuple[str, str, str, str]:
        return (self.source_system, self.medium, self.source, self.channel)


def parse_rules(text: str, where: str = "the channel map") -> list[Rule]:
    """Rules from CSV text: a header `source_system,medium,source,channel`, `#` comment lines and blank lines
    ignored, values trimmed and lower-cased (matching is case-insensitive)."""
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise ConfigError(f"{where} has no header line: start it with {','.join(HEADER)}.")
    rows = list(csv.reader(io.StringIO("\n".join(line for _, line in lines))))
    header = tuple(cell.strip().lower() for cell in rows[0])
    if header != HEADER:
        raise ConfigError(f"{where} line {lines[0][0]}: the header must be {','.join(HEADER)}, not {','.join(header)}.")
    rules: list[Rule] = []
    seen: dict[tuple[str, str, str], tuple[int, str]] = {}
    for (number, _), cells in zip(lines[1:], rows[1:], strict=True):
        if len(cells) != len(HEADER):
            raise ConfigError(f"{where} line {number}: expected 4 values ({','.join(HEADER)}), got {len(cells)}.")
        system, medium, source, channel = (cell.strip().lower() for cell in cells)
        if system not in (*SOURCE_SYSTEMS, ANY):
            raise ConfigError(
                f"{where} line {number}: source_system {system!r} is not one of {', '.join(SOURCE_SYSTEMS)} or *."
            )
        if channel not in CHANNELS:
            raise ConfigError(f"{where} line {number}: channel {channel!r} is not one of {', '.join(CHANNELS)}.")
        if not medium:
            raise ConfigError(f"{where} line {number}: medium is empty (use * for any medium).")
        key = (system, medium, source)
        if key in seen and seen[key][1] != channel:
            first, other = seen[key]
            raise ConfigError(
                f"{where} line {number}: {system},{medium},{source} maps to {channel!r}, but line {first} "
                f"maps it to {other!r}: keep one."
            )
        if key not in seen:
            seen[key] = (number, channel)
            rules.append(Rule(system, medium, source, channel))
    return rules


def load_rules(path: Path) -> list[Rule]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"The channel map {path} cannot be read ({exc.strerror}): fix MARKETING_ELT__CHANNEL_MAP or the file."
        ) from None
    return parse_rules(text, str(path))
