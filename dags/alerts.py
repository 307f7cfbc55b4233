"""
### sync_alerts: keep the ledger, tickets and pages in step

Every 15 minutes:

1. `dispatch`: deliver what is due in the alert ledger: first deliveries that failed earlier (retried with
   backoff, up to 5 consecutive failures) and recurrence updates (a comment on the GitHub issue, a re-trigger
   with the same PagerDuty `dedup_key`). The detect DAG dispatches right after each window as well; this
   run catches what failed there.
2. `sync`: for each open alert with a GitHub issue, a closed issue resolves its PagerDuty incident and
   records the resolution label (`true-positive`, `false-positive`, ...) in the ledger.

Both steps are idempotent: running them any number of times leaves one issue and one incident per alert key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.interval import DeltaDataIntervalTimetable

from mamori import detect
from mamori.dag_defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="sync_alerts",
    schedule=DeltaDataIntervalTimetable(timedelta(minutes=15)),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["mamori", "alerts"],
)
def sync_alerts_dag() -> None:
    @task
    def dispatch() -> dict[str, Any]:
        return detect.dispatch()

    @task(trigger_rule="all_done")
    def sync() -> dict[str, Any]:
        return detect.sync_alerts()

    dispatch() >> sync()


sync_alerts_dag()
