"""
### ingest_&lt;source&gt;: landed raw logs → Parquet lake

One DAG per registered log source, built by the loop below. Each run (every `MAMORI_INGEST_INTERVAL_MINUTES`,
5 minutes by default) takes the objects whose **landing time** (S3 LastModified) falls in its data interval, so a
late delivery is picked up by the window in which it lands and re-running a window reads exactly the same
objects.

1. `plan`: list the source's prefixes one level at a time, keep objects landed in the window, split into batches.
2. `convert` (mapped per batch): parse, normalize, validate the batch with the source's Great Expectations
   suite (schema and types, identity fields, value sets, IP formats, event time within the landing window
   plus skew, row count; docs/data-quality.md), write hive partitions `curated/<table>/account=/region=/dt=/
   hour=/` atomically; bad records and rows a check rejects go to `quarantine/` with a reason; the GX result
   (`dq-batch-NNNN.json`) and the batch manifest (objects, records in, rows out, quarantined) are written last.
3. `finalize`: check records in = rows out + quarantined for the window, record the window's data-quality
   alerts (`mamori_dq_<source>`) in the ledger, note event hours that arrived after detection ran (late data,
   re-evaluated by the `health` DAG), write `_SUCCESS.json`, emit the asset the detect DAG waits for.

Re-running a window overwrites the same files: no duplicates. Raw objects are never modified.

With `MAMORI_INGEST_SQS_URL` (AWS mode) the DAG also runs when the raw bucket's S3 notifications arrive on that
SQS queue (an Airflow asset watcher): such a run has no data interval, takes the most recent closed window and
skips when that window is already finalized or its scheduled run is on it; the cadence stays the safety net
(docs/operations.md, "Event-driven ingest").
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from mamori import ingest
from mamori.dag_defaults import START_DATE, ingest_args, ingest_dag_schedule
from mamori.sources import SOURCES


def plan_window(source: str, start: Any, end: Any, dag_run: Any, ti: Any) -> tuple[Any, Any]:
    """The run's landing window: its data interval, or for a notification-triggered run (no data interval) the
    most recent closed window, skipped when finalized or while its scheduled run (logical date = the window's
    start) is queued or running (mamori.ingest.run_window)."""

    def scheduled_busy(w: Any) -> bool:
        runs = ti.get_dr_count(dag_id=dag_run.dag_id, logical_dates=[w.start], states=["queued", "running"])
        return bool(runs)

    w = ingest.run_window(source, start, end, dag_run.run_after, scheduled_busy=scheduled_busy)
    if w is None:
        raise AirflowSkipException("the window that closed last is finalized or its scheduled run is on it")
    return w.start, w.end


def finalize_window(start: Any, end: Any, dag_run: Any, ti: Any) -> tuple[Any, Any]:
    """finalize's window: the data interval; in a notification-triggered run, the event window if this run's
    plan went ahead (it returned its batches, maybe none), else skip with it (no XCom: plan skipped)."""
    if start is not None and end is not None and end > start:
        return start, end
    if ti.xcom_pull(task_ids="plan") is None:
        raise AirflowSkipException("plan skipped: the window is finalized or its scheduled run is on it")
    w = ingest.event_run_window(dag_run.run_after)
    return w.start, w.end


def build(source: str) -> None:
    @dag(
        dag_id=f"ingest_{source}",
        schedule=ingest_dag_schedule(),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=4,
        default_args=ingest_args(),
        doc_md=__doc__,
        tags=["mamori", "ingest", source],
    )
    def ingest_source() -> None:
        @task
        def plan(
            data_interval_start: Any = None,
            data_interval_end: Any = None,
            dag_run: Any = None,
            ti: Any = None,
        ) -> list[dict[str, Any]]:
            window = plan_window(source, data_interval_start, data_interval_end, dag_run, ti)
            return ingest.plan_window(source, *window)

        @task(multiple_outputs=False, max_active_tis_per_dagrun=2)
        def convert(batch: dict[str, Any]) -> dict[str, Any]:
            return ingest.convert_batch(batch)

        @task(
            multiple_outputs=False,
            trigger_rule="none_failed",
            outlets=[Asset(f"mamori://lake/curated/{source}")],
        )
        def finalize(
            data_interval_start: Any = None,
            data_interval_end: Any = None,
            dag_run: Any = None,
            ti: Any = None,
        ) -> dict[str, Any]:
            window = finalize_window(data_interval_start, data_interval_end, dag_run, ti)
            return ingest.finalize_window(source, *window)

        convert.expand(batch=plan()) >> finalize()

    ingest_source()


for _name in SOURCES:
    build(_name)
