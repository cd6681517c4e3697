"""dlt settings that resources yielding arrow tables rely on.

Arrow batches skip dlt's row normalizer, which is what stamps `_dlt_load_id` and `_dlt_id` on dict rows.
A resource that mixes both paths (arrow normally, dicts when a vendor's types drift) must get the same
columns either way: dict batches declare both NOT NULL. Without them on arrow batches, a Postgres COPY load
failed ("missing data for column _dlt_id"), and the warehouse lost the `_dlt_loads` join. So they default
to on; an explicit user setting (config.toml or env var) is left alone.
"""

from __future__ import annotations

import os

import dlt

DLT_COLUMNS_ON_ARROW = {
    "normalize.parquet_normalizer.add_dlt_load_id": "true",
    "normalize.parquet_normalizer.add_dlt_id": "true",
}


def ensure_dlt_columns_on_arrow() -> None:
    """Turn on dlt's `_dlt_load_id`/`_dlt_id` for arrow items unless the user configured them."""
    for key, value in DLT_COLUMNS_ON_ARROW.items():
        if dlt.config.get(key) is None:
            os.environ[key.upper().replace(".", "__")] = value
