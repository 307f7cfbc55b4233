"""
### dispatch_alerts: deliver alerts, and keep the ledger, tickets and pages in step

Runs when a `detect` run has recorded alerts (asset `mamori://alerts/ledger`) and every 15 minutes:

1. `dispatch`: deliver what is due in the alert ledger: new alerts (GitHub issue first, then PagerDuty
   with a link to it, then Slack; local Markdown tickets when no connection exists), deliveries that failed
   earlier (each output retries 429/5xx/timeouts itself; the ledger retries the rest on later runs with a
   growing, capped backoff until they succeed or are cancelled; an output that is down is asked once per run,
   not once per due alert; the tasks have no Airflow retries), and recurrence updates (one comment on the
   issue, a re-trigger with the same PagerDuty `dedup_key`).
   It also shows triage done in mamori on incident issues (`verdict:<v>` label, a comment, closed or
   reopened) and resolves the pages of closed incidents.
2. `sync`: for each open alert with a GitHub issue, a closed issue resolves its PagerDuty incident and
   records the resolution label (`verdict:true-positive`, `false-positive`, ...) in the ledger; an incident
   issue closed with one verdict label closes the incident with it, by `github:<login>`.

This is the only DAG that talks to outputs, and it runs one at a time (`max_active_runs=1`), so two runs
can never both create the same ticket. Both steps are idempotent: any number of runs leaves one issue and
one incident per alert key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.interval import DeltaDataIntervalTimetable

from mamori import detect
from mamori.dag_defaults import ALERTS_ASSET, DEFAULT_ARGS, DISPATCH_PRIORITY, START_DATE


@dag(
    dag_id="dispatch_alerts",
    schedule=AssetOrTimeSchedule(
        timetable=DeltaDataIntervalTimetable(timedelta(minutes=15)), assets=[ALERTS_ASSET]
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    # No task retries: the ledger retries deliveries with its own backoff and the next run comes within 15
    # minutes; a retry a minute later finds them backed off, turns an outage's run green and holds the
    # one-at-a-time DAG for minutes.
    # Ahead of ingest and of detect in the executor's queue: the alerts of a recorded window go out first.
    default_args={**DEFAULT_ARGS, "retries": 0, "priority_weight": DISPATCH_PRIORITY},
    doc_md=__doc__,
    tags=["mamori", "alerts"],
)
def dispatch_alerts_dag() -> None:
    @task(multiple_outputs=False)
    def dispatch() -> dict[str, Any]:
        return detect.dispatch()

    @task(multiple_outputs=False, trigger_rule="all_done")
    def sync() -> dict[str, Any]:
        return detect.sync_alerts()

    dispatch() >> sync()


dispatch_alerts_dag()
