"""marketing-elt on Apache Airflow, for teams that outgrow one machine (README, "Scheduling").

Built with dlt's Airflow helper (`dlt.helpers.airflow_helper.PipelineTasksGroup`): one task per source,
each its own dlt pipeline (`marketing_elt_<source>`, as `marketing-elt run` names them), so a vendor that
is down fails its own task while the others load. Each task starts from an empty local folder and takes
the pipeline's state (cursors) from the warehouse, so any worker can run any night. Then two tasks that
run whatever the loads did: `reporting_views` refreshes the views, and `freshness` fails the DAG run when
a source's data (reporting.source_freshness) ends more than MAX_LAG_DAYS before today, which is also how a
source that a vendor stopped part-way (a spent quota: dlt loads what arrived and the task succeeds) comes to
light.

Install: this project and Airflow in the workers' environment (`pip install marketing-elt apache-airflow`),
this file in the DAGs folder, the `.dlt/config.toml` settings and the secrets as env vars (or in the DAGs
folder's `.dlt/`, which the helper reads). The destination must be a server both the workers and the BI
tool reach: Postgres or BigQuery, not a DuckDB file on one worker.

Checked by importing it in Airflow 3.3 (tests/reporting/test_deploy.py, when MARKETING_ELT_AIRFLOW_PYTHON
names a Python with Airflow installed) and, once, by hand, by running it with `dag.test()` against the
sandbox and a PostgreSQL server; CI only lints it.
"""

from __future__ import annotations

from typing import Any

import pendulum

try:  # Airflow 3
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

DESTINATION = "postgres"  # or "bigquery"
MAX_LAG_DAYS = 2
SCHEDULE = "30 2 * * *"  # 02:30 UTC: every source's day is over


def source_builder(name: str) -> Any:
    """The source, built when the task runs (not when the scheduler parses this file): configuration and
    secrets are read on the worker, and a configuration mistake fails that source's task only."""

    def build() -> Any:
        from pipelines.registry import SOURCES
        from sources.common.partial import STOPS

        STOPS.reset()
        return SOURCES[name].load_factory()()

    return build


@dag(
    dag_id="marketing_elt_nightly",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # the sources catch up by themselves from their cursors
    max_active_runs=1,  # two runs of one pipeline at once would race on its state
    default_args={"owner": "marketing", "retries": 1, "retry_delay": pendulum.duration(minutes=30)},
    tags=["marketing-elt", "dlt"],
)
def marketing_elt_nightly() -> None:
    from dlt.helpers.airflow_helper import PipelineTasksGroup

    from pipelines.registry import available_sources
    from pipelines.source_run import make_pipeline
    from pipelines.warehouse import LOADER_FILE_FORMAT

    loads = []
    for name in available_sources():
        # the group first: it points dlt at a fresh working folder the pipeline must be created in
        group = PipelineTasksGroup(name, use_data_folder=False, wipe_local_data=True, use_task_logger=True)
        pipeline = make_pipeline(name, DESTINATION)
        loads += group.add_run(
            pipeline,
            source_builder(name),
            decompose="none",  # one task: resources of a source share a client and its rate limit
            loader_file_format=LOADER_FILE_FORMAT[DESTINATION],
            trigger_rule="all_done",
        )

    @task(trigger_rule="all_done")
    def reporting_views() -> list[str]:
        from pipelines.reporting import refresh_views

        return refresh_views(DESTINATION, raise_errors=True).notes

    @task(trigger_rule="all_done", retries=0)
    def freshness() -> None:
        """Fail when a source's data ends more than MAX_LAG_DAYS before today (reporting.source_freshness)."""
        from pipelines.reporting.refresh import reporting_pipeline
        from pipelines.reporting.settings import reporting_dataset

        with reporting_pipeline(DESTINATION).sql_client() as client:
            view = f"{client.capabilities.escape_identifier(reporting_dataset())}.source_freshness"
            rows = client.execute_sql(f"SELECT source, last_day, days_behind FROM {view}")
        behind = [(s, last, days) for s, last, days in rows if days is None or days > MAX_LAG_DAYS]
        for source, last, days in rows:
            print(f"{source}: data through {last} ({days} day(s) behind)")
        if behind:
            raise RuntimeError(
                f"{len(behind)} source(s) more than {MAX_LAG_DAYS} days behind: "
                + ", ".join(f"{s} (through {last or 'never'})" for s, last, _ in behind)
            )

    views = reporting_views()
    for load in loads:
        load >> views
    views >> freshness()


marketing_elt_nightly()
