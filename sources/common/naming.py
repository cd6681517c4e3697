"""Column names the way dlt names them, so rows we flatten ourselves match rows dlt normalizes.

One naming function for every vendor: a second implementation drifts (`utm-campaigns`, `ctaViews`,
digits) and the same field lands in two columns depending on which path loaded it.
"""

from __future__ import annotations

from functools import lru_cache

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
