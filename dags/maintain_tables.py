"""
### maintain_tables: the Athena database, tables and `all_events` view, from `sql/ddl/`

AWS mode only (`MAMORI_ENGINE=athena`); on the embedded default it logs that there is nothing to do.
Runs daily and whenever triggered after a deploy. Every statement is idempotent (`IF NOT EXISTS`,
`CREATE OR REPLACE VIEW`). Tables use partition projection over `MAMORI_ACCOUNTS` × `MAMORI_REGIONS` × days,
so there is no crawler and no `MSCK REPAIR`, and a query's `dt`/`hour` filter decides what Athena reads (and
bills). A column change needs `mamori tables --recreate` (external tables: no data is deleted).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from mamori.dag_defaults import DEFAULT_ARGS, START_DATE
from mamori.engines import tables


@dag(
    dag_id="maintain_tables",
    schedule=CronDataIntervalTimetable("30 0 * * *", timezone="UTC"),  # a real daily interval
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["mamori", "maintenance"],
)
def maintain_tables_dag() -> None:
    @task(multiple_outputs=False)
    def create_tables() -> dict[str, Any]:
        return tables.maintain_tables()

    create_tables()


maintain_tables_dag()
