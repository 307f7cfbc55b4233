"""The cadence settings are the DAGs' real schedules (they used to be hard-coded hourly whatever the setting).

Parsed as the DAG processor would under each environment: the ingest and health DAGs run every
`MAMORI_INGEST_INTERVAL_MINUTES`, detect every `MAMORI_DETECT_INTERVAL_MINUTES` (the ingest interval unless
set), each with a real data interval of that length starting on an epoch-aligned boundary. An interval that does
not tile hours and days is an import error naming the variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_AFTER = pendulum.datetime(2026, 11, 1, 5, 40, tz="UTC")


def parse(monkeypatch, **env: str):
    from airflow.dag_processing.dagbag import DagBag

    for k in ("MAMORI_INGEST_INTERVAL_MINUTES", "MAMORI_DETECT_INTERVAL_MINUTES"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return DagBag(str(REPO / "dags"))


def interval(dag) -> tuple[pendulum.DateTime, pendulum.DateTime]:
    info = dag.timetable.infer_manual_data_interval(run_after=RUN_AFTER)
    return info.start, info.end


@pytest.mark.parametrize(
    ("env", "ingest", "detect"),
    [
        ({}, 5, 5),
        ({"MAMORI_INGEST_INTERVAL_MINUTES": "15"}, 15, 15),
        ({"MAMORI_INGEST_INTERVAL_MINUTES": "30", "MAMORI_DETECT_INTERVAL_MINUTES": "60"}, 30, 60),
        ({"MAMORI_INGEST_INTERVAL_MINUTES": "60", "MAMORI_DETECT_INTERVAL_MINUTES": "5"}, 60, 5),
    ],
    ids=["default-5m", "ingest-15m", "ingest-30m-detect-1h", "detect-5m"],
)
def test_schedules_follow_the_cadence_settings(monkeypatch, env, ingest, detect):
    bag = parse(monkeypatch, **env)
    assert bag.import_errors == {}
    want = {"ingest": timedelta(minutes=ingest), "health": timedelta(minutes=ingest)}
    want["detect"] = timedelta(minutes=detect)
    for dag_id, dag in bag.dags.items():
        kind = "ingest" if dag_id.startswith("ingest_") else dag_id
        if kind not in want:
            continue
        start, end = interval(dag)
        # the interval that ended last before RUN_AFTER, on an aligned boundary
        assert end - start == want[kind], dag_id
        assert end <= RUN_AFTER < end + want[kind], dag_id


def test_a_cadence_that_does_not_tile_is_an_import_error_naming_the_variable(monkeypatch):
    bag = parse(monkeypatch, MAMORI_INGEST_INTERVAL_MINUTES="45")
    assert bag.import_errors
    assert all("MAMORI_INGEST_INTERVAL_MINUTES" in err for err in bag.import_errors.values())
