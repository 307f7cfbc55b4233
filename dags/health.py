"""
### health: can the detections trust the lake? Freshness, schema drift, reconciliation, late data

At the ingest cadence (`MAMORI_INGEST_INTERVAL_MINUTES`, 5 minutes by default), for the ingest window of the data
interval (data-quality expectations themselves run inside each `ingest_<source>` batch, see
docs/data-quality.md). Every finding is an alert in the ledger, from a
header-only definition in `sql/health/`, delivered by `dispatch_alerts` like any detection.

1. `wait_for_ingest` (sensor, reschedule mode, 2 h): every source's ingest window is finalized, or left a
   reconciliation-gap record. The checks run even if it times out (unfinalized windows read as *unknown*).
2. `freshness`: per stream (source x account x region), cadence and volume learned from the window
   manifests (or declared in `sql/health/streams.yaml`): `mamori_health_silence` /
   `mamori_health_volume_drop`, with tamper alerts of the same account in the context; resolved when data returns.
3. `drift`: new fields, new CloudTrail eventVersion, new VPC Flow header order, columns gone all-null, parse
   failure rate: `mamori_schema_drift`, naming what changed.
4. `reconciliation`: for the current and previous window, raw records landed = lake rows + quarantined, from
   the objects and file footers: `mamori_reconciliation_gap` with the objects or files involved.
5. `late_data`: detection windows that ran before late rows landed are run again (idempotent ledger: no
   duplicate alerts).
6. `detect_deadline` (does not wait for the sensor): detection windows due in this interval (window end +
   detection lag + `MAMORI_DETECT_DEADLINE_MINUTES`) whose result was not recorded by then:
   `mamori_detect_deadline`, one per window. Demo, catch-up and backfill runs replay history and are not judged.
7. `record`: emits `mamori://alerts/ledger`, which runs `dispatch_alerts`.

One run at a time: freshness resolves alerts in window order.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from mamori.dag_defaults import ALERTS_ASSET, DEFAULT_ARGS, START_DATE, ingest_schedule
from mamori.health import tasks as health


@dag(
    dag_id="health",
    schedule=ingest_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["mamori", "health", "quality", "alerts"],
)
def health_dag() -> None:
    @task.sensor(poke_interval=120, timeout=int(timedelta(hours=2).total_seconds()), mode="reschedule")
    def wait_for_ingest(data_interval_start: Any = None) -> bool:
        return health.ingest_settled(data_interval_start)

    @task(multiple_outputs=False, trigger_rule="all_done")
    def freshness(data_interval_start: Any = None, data_interval_end: Any = None) -> dict[str, Any]:
        return health.freshness(data_interval_start, data_interval_end)

    @task(multiple_outputs=False, trigger_rule="all_done")
    def drift(data_interval_start: Any = None, data_interval_end: Any = None) -> dict[str, Any]:
        return health.drift(data_interval_start, data_interval_end)

    @task(multiple_outputs=False, trigger_rule="all_done")
    def reconciliation(data_interval_start: Any = None, data_interval_end: Any = None) -> dict[str, Any]:
        return health.reconciliation(data_interval_start, data_interval_end)

    @task(multiple_outputs=False, trigger_rule="all_done")
    def late_data(data_interval_start: Any = None, data_interval_end: Any = None) -> dict[str, Any]:
        return health.late_data(data_interval_start, data_interval_end)

    @task(multiple_outputs=False)
    def detect_deadline(data_interval_start: Any = None, data_interval_end: Any = None) -> dict[str, Any]:
        return health.detect_deadline(data_interval_start, data_interval_end)

    @task(multiple_outputs=False, trigger_rule="all_done", outlets=[ALERTS_ASSET])
    def record(
        fresh: dict[str, Any] | None,
        drifted: dict[str, Any] | None,
        reconciled: dict[str, Any] | None,
        late: dict[str, Any] | None,
        deadline: dict[str, Any] | None,
    ) -> dict[str, Any]:
        return health.summarize(
            {
                "freshness": fresh,
                "drift": drifted,
                "reconciliation": reconciled,
                "late_data": late,
                "detect_deadline": deadline,
            }
        )

    waited = wait_for_ingest()
    f, d, r, lt = freshness(), drift(), reconciliation(), late_data()
    waited >> [f, d, r, lt]
    record(f, d, r, lt, detect_deadline())


health_dag()
