"""Defaults every mamori DAG shares: schedule shape, retries, the closed tag set.

Imported at DAG-parse time, so it does no I/O (a test enforces this for the DAG files as a whole): the
schedules read the cadence settings from the environment only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset
from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.interval import CronDataIntervalTimetable

from mamori import windows
from mamori.config import load_settings
from mamori.health.deadline import on_detect_deadline_missed
from mamori.sources import SOURCES

# Tags come from this set only (the job kinds plus the registered log sources), so the UI's tag filter stays
# meaningful; the DAG integrity test enforces it.
TAGS: frozenset[str] = frozenset(
    {"mamori", "ingest", "detect", "alerts", "health", "quality", "maintenance"}
) | frozenset(SOURCES)

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)

# detect updates the ledger and emits this; dispatch_alerts (the only DAG that talks to outputs) runs on it.
ALERTS_ASSET = Asset("mamori://alerts/ledger")

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "security-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
}


# priority_weight of every detect and dispatch_alerts task: more than all of an ingest DAG's tasks add up to, so
# in the executor's queue a detect run whose ingest windows are finalized, and the dispatch of its alerts, go
# before the next windows' ingest (measured from `mamori up`: the first detect run's sensor, weight 1, waited
# behind the converts and finalizes of four later windows).
ALERT_PATH_PRIORITY = 10
# priority_weight of dispatch_alerts' tasks: more than the whole detect DAG adds up to, so a recorded window's
# tickets go out before the next detect run's rule chunks. With ALERT_PATH_PRIORITY they did not under `mamori
# up`'s upstream weight rule (a chunk weighs its own 10 plus its sensor's): the first ticket's dispatch waited 27 s
# behind the second sample window's chunks (docs/operations.md, "Fourth round").
DISPATCH_PRIORITY = 100
# priority_weight of compact_lake's tasks: below every ingest task, so compaction takes an executor slot only
# when no ingest task is waiting for it. At the default weight (1), the run the scheduler creates on unpause
# (yesterday's, so older than any recent ingest window) went first: under `mamori up` its seven tasks took the
# slots ahead of the sample's first ingest window (docs/operations.md, "Fifth round"). Compaction touches only
# partitions settled for 48 h, so it has no deadline an ingest window could make it miss.
MAINTENANCE_PRIORITY = 0


def with_queue(queue: str | None) -> dict[str, Any]:
    """DEFAULT_ARGS plus `queue` when one is set (MAMORI_INGEST_QUEUE / MAMORI_DETECT_QUEUE): a DAG's tasks go to
    that executor queue (Celery: a worker pool of their own). Unset, the args are DEFAULT_ARGS unchanged, so every
    task keeps Airflow's `[operators] default_queue`."""
    return {**DEFAULT_ARGS, "queue": queue} if queue else DEFAULT_ARGS


def ingest_args() -> dict[str, Any]:
    """default_args of every ingest_<source> DAG: DEFAULT_ARGS on `MAMORI_INGEST_QUEUE` when set."""
    return with_queue(load_settings().ingest_queue)


def detect_args() -> dict[str, Any]:
    """default_args of the detect DAG: DEFAULT_ARGS on `MAMORI_DETECT_QUEUE` when set, ahead of ingest."""
    return {**with_queue(load_settings().detect_queue), "priority_weight": ALERT_PATH_PRIORITY}


def ingest_schedule() -> CronDataIntervalTimetable:
    """`MAMORI_INGEST_INTERVAL_MINUTES` (5 minutes by default) with a real data interval [start, end): the
    ingest DAGs' landing windows, and the health DAG's, which checks each of them once."""
    return windows.timetable(load_settings().ingest_interval)


# The raw bucket's "something landed" signal (MAMORI_INGEST_SQS_URL): one asset, one watcher on the one queue,
# every ingest DAG scheduled on it. One watcher rather than one per source: SQS hands each message to one
# consumer, so per-source watchers on a shared queue would take each other's messages (and leave those of keys
# no source claims in the queue for ever); and a run never needs the message, it lists its own window.
LANDED_ASSET_URI = "mamori://raw/landed"
# How the watcher polls: long polls of up to 20 s (SQS's maximum; a message is seen within a second of being
# sent) and a 5 s pause after an empty one, 10 messages at most per receive (SQS's maximum). A run waits only
# for the scheduler's loop after that; the notifications of one cadence period fold into one event.
SQS_WAIT_SECONDS = 20
SQS_PAUSE_SECONDS = 5
SQS_MAX_MESSAGES = 10


def landed_asset(queue_url: str, aws_conn_id: str | None, interval: timedelta) -> Asset:
    """The asset the SQS watcher updates when S3 notifications arrive on `queue_url`.

    The trigger is the amazon provider's `SqsSensorTrigger` (a `BaseEventTrigger`, so Airflow 3 accepts it in an
    `AssetWatcher`; common-messaging's `MessageQueueTrigger` would only pick this same class from the URL, for one
    more dependency), as `mamori.triggers.LandedWatcher`: at most one event per cadence `interval`, since an
    event run only ever looks at the window that closed last, and no message bodies in the event. It deletes
    what it receives, unfiltered: every message means "look at the closed window", whatever its key, so a
    notification for another prefix, a foreign source or S3's `s3:TestEvent` costs at most the runs that find
    their window finalized. Imported here, only when a queue is configured, so a deployment without one never
    imports the provider's SQS code at parse time."""
    from airflow.sdk import AssetWatcher

    from mamori.triggers import LandedWatcher

    trigger = LandedWatcher(
        interval_seconds=int(interval.total_seconds()),
        sqs_queue=queue_url,
        aws_conn_id=aws_conn_id,
        max_messages=SQS_MAX_MESSAGES,
        wait_time_seconds=SQS_WAIT_SECONDS,
        waiter_delay=SQS_PAUSE_SECONDS,
        delete_message_on_reception=True,
    )
    return Asset(
        name="mamori_raw_landed",
        uri=LANDED_ASSET_URI,
        watchers=[AssetWatcher(name="mamori_raw_landed_sqs", trigger=trigger)],
    )


def ingest_dag_schedule() -> CronDataIntervalTimetable | AssetOrTimeSchedule:
    """The ingest DAGs' schedule: the cadence (`ingest_schedule`) and, with `MAMORI_INGEST_SQS_URL`, also the
    raw bucket's notifications, the cadence staying the safety net (a lost or late notification, a queue
    outage, a window with no deliveries: every window still gets its scheduled run). Unset: the cadence alone,
    exactly as before, and no trigger class is imported."""
    s = load_settings()
    cadence = windows.timetable(s.ingest_interval)
    if s.ingest_sqs_url is None:
        return cadence
    # Airflow 3.3 types the core AssetOrTimeSchedule's assets as serialized ones, but a DAG file hands it SDK
    # assets, which the DAG serializer converts (dags/dispatch_alerts.py does the same).
    landed = landed_asset(s.ingest_sqs_url, s.raw_conn_id, s.ingest_interval)
    return AssetOrTimeSchedule(timetable=cadence, assets=[landed])  # type: ignore[list-item]


def detect_schedule() -> CronDataIntervalTimetable:
    """`MAMORI_DETECT_INTERVAL_MINUTES` (the ingest interval by default): the detect DAG's windows."""
    return windows.timetable(load_settings().detect_interval)


def detect_parallel_chunks() -> int:
    """`MAMORI_DETECT_PARALLEL_CHUNKS` (2 by default): how many of a detect run's run_detections tasks run at
    once. `mamori up` sets its executor's slots (8): a run's own cap then never holds one of its chunks back while
    a slot is free, so the next window's chunks cannot go ahead of them (older runs first)."""
    return load_settings().detect_parallel_chunks


def detect_poke_seconds() -> float:
    """`MAMORI_DETECT_POKE_SECONDS` (unset: a tenth of the detect interval, 30 s to 2 min): how often detect's
    wait_for_ingest sensor checks the lake. `mamori up` sets 30, so the first detect run starts soon after its
    ingest windows are finalized."""
    return load_settings().detect_poke.total_seconds()


def detect_deadline() -> DeadlineAlert:
    """The detect DAG's deadline: a run not done `MAMORI_DETECT_DEADLINE_MINUTES` after it was queued calls
    `mamori.health.deadline.on_detect_deadline_missed`, which records the window's `mamori_detect_deadline` alert.

    Measured from the queue time, not the logical date: a scheduled run is queued when its data interval ends,
    so the two agree for the windows the scheduler is responsible for, while a `dag.test()` or a backfill of
    old windows gets a deadline in the future (pruned when the run succeeds) instead of one long past that
    would stay in Airflow's table. A sync callback: it runs in the executor, like a task, with the ledger's
    settings and no triggerer needed.
    """
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=load_settings().detect_deadline,
        callback=SyncCallback(on_detect_deadline_missed),
    )
