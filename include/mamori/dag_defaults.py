"""Defaults every mamori DAG shares: schedule shape, retries, the closed tag set.

Imported at DAG-parse time, so it does no I/O (a test enforces this for the DAG files as a whole): the
schedules read the cadence settings from the environment only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset
from airflow.timetables.interval import CronDataIntervalTimetable

from mamori import windows
from mamori.config import load_settings
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


def ingest_schedule() -> CronDataIntervalTimetable:
    """`MAMORI_INGEST_INTERVAL_MINUTES` (hourly by default) with a real data interval [start, end): the
    ingest DAGs' landing windows, and the health DAG's, which checks each of them once."""
    return windows.timetable(load_settings().ingest_interval)


def detect_schedule() -> CronDataIntervalTimetable:
    """`MAMORI_DETECT_INTERVAL_MINUTES` (the ingest interval by default): the detect DAG's windows."""
    return windows.timetable(load_settings().detect_interval)
