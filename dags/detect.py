"""
### detect: run every enabled detection over the window, record alerts, dispatch tickets

Every `MAMORI_DETECT_INTERVAL_MINUTES` (default: the ingest interval, 5 minutes). Each source's detection window
is first the data interval shifted back by `MAMORI_DETECT_FIRST_LAG_MINUTES` (default 0), then re-read by the next
runs up to its delivery lag (declared per source; `MAMORI_DETECT_LAG_MINUTES` overrides them all) plus
`MAMORI_DETECT_OVERLAP_MINUTES`, so late deliveries are evaluated once they land; the run first waits until each
source's ingest windows covering the data interval are finalized (`mamori.windows`).

1. `wait_for_ingest` (sensor, reschedule mode, every `MAMORI_DETECT_POKE_SECONDS`, default a tenth of the
   interval between 30 s and 2 min): the lake's
   `_SUCCESS.json` for the needed ingest windows. When they are there it returns the enabled detections in
   `sql/detections/` (deprecated ones do not run), in chunks of up to `MAMORI_DETECT_CHUNK_SIZE` (default 10)
   rules of one log source, as its XCom: no task of its own between the sensor and the rules.
2. `run_detections` (mapped per chunk, `MAMORI_DETECT_PARALLEL_CHUNKS` at once, default 2): render each
   rule's SQL for the window, run it on the engine (DuckDB embedded, Athena in AWS), group hits into alerts by
   dedup key and window, record them in the ledger.
   A re-run replaces the window's contribution: same alert keys, no new rows.
   A rule that fails to load or whose SQL fails on the engine is skipped and reported; the others run.
   In a backfill run (Airflow's Backfills, `mamori backfill` through Airflow) new alerts are ticketed but do
   not page, unless the backfill's conf says {"page": true} (`mamori backfill --page`).
3. `record`: records the window's rule errors as `mamori_rule_error` alerts and emits the asset
   `mamori://alerts/ledger`, which runs `dispatch_alerts` (the single writer to GitHub, PagerDuty, Slack
   and the local tickets).
4. `check_rules`: fails, naming only the broken rules, when any rule errored; everything else is recorded
   and dispatched by then.

Deadline: a scheduled run not done `MAMORI_DETECT_DEADLINE_MINUTES` (default 30) after it was queued raises a
`mamori_detect_deadline` health alert for its window, unless `record` had recorded the window in time
(`mamori.health.deadline`; the health DAG's `detect_deadline` check also catches windows with no run at all).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import PokeReturnValue, dag, task

from mamori import detect
from mamori.dag_defaults import (
    ALERTS_ASSET,
    START_DATE,
    detect_args,
    detect_deadline,
    detect_parallel_chunks,
    detect_poke_seconds,
    detect_schedule,
)


@dag(
    dag_id="detect",
    schedule=detect_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=2,
    deadline=detect_deadline(),
    default_args=detect_args(),
    doc_md=__doc__,
    tags=["mamori", "detect", "alerts"],
)
def detect_dag() -> None:
    @task.sensor(
        poke_interval=detect_poke_seconds(),
        timeout=int(timedelta(hours=6).total_seconds()),
        mode="reschedule",
    )
    def wait_for_ingest(data_interval_start: Any = None, data_interval_end: Any = None) -> PokeReturnValue:
        chunks = detect.ready_chunks(data_interval_end, start=data_interval_start)
        return PokeReturnValue(is_done=chunks is not None, xcom_value=chunks)

    @task(max_active_tis_per_dagrun=detect_parallel_chunks())
    def run_detections(
        ids: list[str], data_interval_start: Any = None, data_interval_end: Any = None, dag_run: Any = None
    ) -> list[dict[str, Any]]:
        page = detect.pages(getattr(dag_run, "run_type", None), getattr(dag_run, "conf", None))
        return detect.run_chunk(ids, data_interval_start, data_interval_end, page=page)

    @task(multiple_outputs=False, outlets=[ALERTS_ASSET])
    def record(
        results: list[list[dict[str, Any]]],
        data_interval_start: Any = None,
        data_interval_end: Any = None,
        dag_run: Any = None,
    ) -> dict[str, Any]:
        run_type = getattr(dag_run, "run_type", None)
        return detect.summarize_window(results, data_interval_start, data_interval_end, run_type=run_type)

    @task(retries=0)  # it re-reads the recorded summary: a retry cannot pass, it only delays the red run
    def check_rules(summary: dict[str, Any]) -> None:
        detect.check_rule_errors(summary)

    check_rules(record(run_detections.expand(ids=wait_for_ingest())))


detect_dag()
