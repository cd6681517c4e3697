"""For `marketing-elt status`: traffic values no channel rule matches (they count as `other` until one does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .settings import reporting_dataset


@dataclass(frozen=True)
class UnmappedValue:
    source_system: str
    medium: str
    source: str
    first_day: Any
    last_day: Any

    @property
    def label(self) -> str:
        return (
            f"{self.source_system} {self.medium}/{self.source}"
            if self.source
            else f"{self.source_system} {self.medium}"
        )


def unmapped_channels(reader: Any) -> list[UnmappedValue]:
    """Read `reporting.channel_values` through a `pipelines.readers` reader (DuckDB or Postgres); empty when
    the views do not exist yet."""
    from pipelines.readers import Missing

    sql = (
        f'SELECT source_system, medium, source, first_day, last_day FROM "{reporting_dataset()}"."channel_values" '
        "WHERE NOT mapped ORDER BY source_system, medium, source"
    )
    try:
        rows = reader.query(sql)
    except Missing:
        return []
    return [UnmappedValue(str(row[0]), str(row[1]), str(row[2]), row[3], row[4]) for row in rows]


def unmapped_line(values: list[UnmappedValue]) -> str | None:
    """One line for the status output, or None when every value is mapped."""
    if not values:
        return None
    listed = ", ".join(value.label for value in values)
    return (
        f"channels: {len(values)} traffic value(s) match no rule of the channel map and count as 'other': {listed}; "
        "add rules to pipelines/reporting/channel_map.csv (or MARKETING_ELT__CHANNEL_MAP)."
    )
