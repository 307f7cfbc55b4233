"""
### compact_lake: merge each settled hour partition's small Parquet files into one

Every ingest batch writes one file per hour partition it has rows for, so late deliveries and small batches
leave many small files per partition, and every query pays per file it opens. Once a day, one task per log
source merges the files of the partitions that the ingest windows ending in this run's data interval, shifted
back by `MAMORI_COMPACT_SETTLE_HOURS` (48 by default), wrote into: one `compact-<digest>.parquet` per
partition, rows kept exactly, the originals deleted after a record of what was absorbed is written to
`_compaction/<table>/<partition>.json` (outside `curated/`, where only data may live).

Only settled partitions are touched (the hour and the windows that wrote it ended at least the settle period
ago), so hourly detections and the health DAG's reconciliation, which read recent hours and windows, never
race with a rewrite. Re-running an ingest window after compaction changes nothing. A run is idempotent and a
retry cleans up after an interrupted one. `mamori compact --before ...` sweeps every partition of a table (e.g.
after a backfill or when this DAG was paused). Details and invariants: docs/compaction.md.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from mamori.dag_defaults import DEFAULT_ARGS, MAINTENANCE_PRIORITY, START_DATE
from mamori.lake import compact
from mamori.sources import SOURCES


@dag(
    dag_id="compact_lake",
    schedule=CronDataIntervalTimetable("45 1 * * *", timezone="UTC"),  # a real daily interval
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "priority_weight": MAINTENANCE_PRIORITY},  # after any waiting ingest task
    doc_md=__doc__,
    tags=["mamori", "maintenance"],
)
def compact_lake_dag() -> None:
    for name in SOURCES:

        @task(multiple_outputs=False, task_id=f"compact_{name}")
        def compact_source(
            source: str, data_interval_start: Any = None, data_interval_end: Any = None
        ) -> dict[str, Any]:
            return compact.compact_interval(source, data_interval_start, data_interval_end)

        compact_source(name)


compact_lake_dag()
