"""The two timed Leads loads, each run in its own process by `benchmarks.leads_load` (see workers.py).

- ``dlt``: the real `hubspot_leads` source over HTTP from the (replaying) sandbox into a fresh DuckDB file,
  `loader_file_format="parquet"`, the CLI's arrow-normalizer defaults, "now" pinned to the sandbox's
  night. The HubSpot client's shared rate limiter (190 requests / 10 s) is replaced by an unlimited one
  in this process only: at the real limit ~1,000 pages take >= 53 s whatever our code does, and the point
  here is the cost of our code. Timed: `pipeline.run()` (extract, normalize, load), not interpreter start.
- ``native``: DuckDB alone, `read_ndjson` of the same records then UNNEST into the same three tables
  (with the same parent keys: `lead_guid`, `position`, `conversion_guid`, `event_position`). Types are
  what `read_ndjson` infers (epoch ms stay BIGINT, nested objects stay STRUCTs): the reference for
  "how fast could this machine possibly load these rows". Timed: the SQL, not connecting.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.workers import emit, peak_rss_mb

LEADS = "hubspot_leads"
EVENTS = "hubspot_leads__lead_conversion_events"
VALUES = "hubspot_leads__lead_conversion_events__form_submission_values"
TABLES = (LEADS, EVENTS, VALUES)
DATASET = "marketing"

NATIVE_SQL = (
    "CREATE SCHEMA {dataset}",
    "CREATE TEMP TABLE raw_leads AS SELECT * FROM read_ndjson({path})",
    f"CREATE TABLE {{dataset}}.{LEADS} AS SELECT * EXCLUDE (leadConversionEvents) FROM raw_leads",
    "CREATE TEMP TABLE raw_events AS SELECT guid AS lead_guid,"
    " generate_subscripts(leadConversionEvents, 1) - 1 AS position, UNNEST(leadConversionEvents) AS ev"
    " FROM raw_leads",
    f"CREATE TABLE {{dataset}}.{EVENTS} AS SELECT * EXCLUDE (formSubmissionValues)"
    " FROM (SELECT lead_guid, position, UNNEST(ev) FROM raw_events)",
    f"CREATE TABLE {{dataset}}.{VALUES} AS SELECT lead_guid, conversion_guid, event_position, position, UNNEST(v)"
    " FROM (SELECT lead_guid, ev.guid AS conversion_guid, position AS event_position,"
    " generate_subscripts(ev.formSubmissionValues, 1) - 1 AS position, UNNEST(ev.formSubmissionValues) AS v"
    " FROM raw_events)",
)


def count_rows(db: Path) -> dict[str, int]:
    """Rows per table of the dataset, for checking both loads against the sandbox's own count."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT COUNT(*) FROM {DATASET}.{t}").fetchone()[0] for t in TABLES}  # type: ignore[index]


def dlt_run(args: dict[str, Any]) -> dict[str, Any]:
    import dlt
    import pendulum

    import sources.hubspot.client as hubspot_client
    from sources.common import clock
    from sources.common.arrow import ensure_dlt_columns_on_arrow
    from sources.common.ratelimit import RateLimiter
    from sources.hubspot import hubspot_leads

    ensure_dlt_columns_on_arrow()  # as the CLI: _dlt_load_id/_dlt_id on arrow batches
    hubspot_client._LIMITER = RateLimiter(10**9, 1.0)  # see the module docstring
    workdir = Path(args["workdir"])
    db = workdir / "warehouse.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="bench_hubspot_leads",
        destination=dlt.destinations.duckdb(str(db)),
        dataset_name=DATASET,
        pipelines_dir=str(workdir / "dlt"),
    )
    with clock.pinned(pendulum.parse(args["now"])):
        source = hubspot_leads(access_token=args["token"], base_url=args["base_url"], start_date=args["start_date"])
        started = time.perf_counter()
        pipeline.run(source, loader_file_format="parquet")
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows": count_rows(db), "peak_rss_mb": peak_rss_mb()}


def native_run(args: dict[str, Any]) -> dict[str, Any]:
    db = Path(args["workdir"]) / "native.duckdb"
    path = "'" + str(args["jsonl"]).replace("'", "''") + "'"
    with duckdb.connect(str(db)) as con:
        started = time.perf_counter()
        for statement in NATIVE_SQL:
            con.execute(statement.format(dataset=DATASET, path=path))
        con.execute("CHECKPOINT")  # the rows are on disk, as after dlt's load
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows": count_rows(db), "peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    worker_args = json.loads(sys.argv[1])
    emit((dlt_run if worker_args["kind"] == "dlt" else native_run)(worker_args))
