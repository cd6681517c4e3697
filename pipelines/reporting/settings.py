"""Names and settings of the reporting layer, each with its config key (env var in the comment)."""

from __future__ import annotations

import os
from pathlib import Path

import dlt

PACKAGE_DIR = Path(__file__).parent
VIEWS_DIR = PACKAGE_DIR / "views"
DEFAULT_CHANNEL_MAP = PACKAGE_DIR / "channel_map.csv"
DEFAULT_REPORTING_DATASET = "reporting"
SOURCE_DIALECT = "duckdb"  # the dialect the views/*.sql files are written in (as sqlglot reads it)

# The views in creation order: a view comes after the views it reads.
VIEWS = (
    "daily_traffic",
    "traffic_sources_daily",
    "channel_values",
    "channel_daily",
    "conversions",
    "leads_current",
    "source_freshness",
)
CHANNEL_MAP_TABLE = "channel_map"

# One channel vocabulary for every vendor (issue 17); the rules in channel_map.csv may only name these.
CHANNELS = (
    "organic search",
    "paid search",
    "paid social",
    "organic social",
    "email",
    "referral",
    "direct",
    "other",
)
UNMAPPED_CHANNEL = "other"
SOURCE_SYSTEMS = ("hubspot", "humblytics", "attributionhub")
ANY = "*"


def reporting_dataset() -> str:
    """`MARKETING_ELT__REPORTING_DATASET` / `[marketing_elt] reporting_dataset`: the schema the views live in."""
    return str(dlt.config.get("marketing_elt.reporting_dataset") or DEFAULT_REPORTING_DATASET)


def channel_map_path() -> Path:
    """`MARKETING_ELT__CHANNEL_MAP` / `[marketing_elt] channel_map`: the rules file (relative to the working dir)."""
    configured: object = dlt.config.get("marketing_elt.channel_map")
    if not configured:
        return DEFAULT_CHANNEL_MAP
    path = Path(str(configured)).expanduser()
    return path if path.is_absolute() else Path(os.getcwd()) / path


def publish_path() -> Path | None:
    """`MARKETING_ELT__PUBLISH_PATH` / `[marketing_elt] publish_path`: where each run writes the BI copy."""
    configured: object = dlt.config.get("marketing_elt.publish_path")
    if not configured:
        return None
    path = Path(str(configured)).expanduser()
    return path if path.is_absolute() else Path(os.getcwd()) / path
