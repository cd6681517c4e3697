"""Column names the way dlt names them, so rows we flatten ourselves match rows dlt normalizes.

One naming function for every vendor: a second implementation drifts (`utm-campaigns`, `ctaViews`,
digits) and the same field lands in two columns depending on which path loaded it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention

_NAMING = NamingConvention()


@lru_cache(maxsize=8192)
def snake_case(name: str) -> str:
    """`rawViews` → `raw_views`, `utm-campaigns` → `utm_campaigns` (dlt's default naming convention)."""
    return _NAMING.normalize_identifier(name)


@lru_cache(maxsize=8192)
def column_name(raw_key: str, prefix: str = "") -> str:
    """The column dlt would name for `raw_key` nested under `prefix` (already a column path)."""
    name = snake_case(raw_key)
    return _NAMING.make_path(prefix, name) if prefix else name


def extra_columns(record: Mapping[str, Any], known: Collection[str], taken: Collection[str]) -> dict[str, Any]:
    """The fields of `record` its document does not list (`known`), named as dlt would and never over a column
    in `taken`: a field a vendor adds lands in a new column instead of being dropped (schema drift), and a
    nested object in child columns (dlt flattens it: `segment` -> `segment__id`). Lists are left out: they
    would become child tables with no key to merge on."""
    extra: dict[str, Any] = {}
    for key, value in record.items():
        column = snake_case(key)
        if key not in known and column not in taken and isinstance(value, str | int | float | bool | Mapping):
            extra[column] = value
    return extra
