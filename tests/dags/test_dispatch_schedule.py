"""The schedule the README states for `dispatch_alerts`: on the ledger asset (emitted by `detect` and `health`
when they record alerts) or every 15 minutes, one run at a time. This checks the declared schedule; no test
waits for the scheduler to start a run by itself (tests/e2e/test_scheduler.py triggers dispatch by hand)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def test_dispatch_runs_on_the_ledger_asset_or_every_15_minutes(dags):
    from airflow.timetables.assets import AssetOrTimeSchedule
    from airflow.timetables.interval import DeltaDataIntervalTimetable

    from mamori.dag_defaults import ALERTS_ASSET

    dispatch = dags["dispatch_alerts"]
    assert dispatch.max_active_runs == 1
    tt = dispatch.timetable
    assert isinstance(tt, AssetOrTimeSchedule)
    assert isinstance(tt.timetable, DeltaDataIntervalTimetable) and tt.timetable._delta == timedelta(
        minutes=15
    )
    assert {a.uri for _, a in tt.asset_condition.iter_assets()} == {ALERTS_ASSET.uri}

    # Who emits the asset: the task of detect and of health that records alerts.
    emitters = {
        (dag_id, t.task_id)
        for dag_id, dag in dags.items()
        for t in dag.tasks
        if any(getattr(o, "uri", None) == ALERTS_ASSET.uri for o in t.outlets)
    }
    assert {dag_id for dag_id, _ in emitters} == {"detect", "health"}


def test_a_red_dispatch_or_rule_check_is_not_retried_by_airflow(dags):
    """dispatch's retry is the ledger's backoff and the next run; a task retry a minute later finds the failed
    deliveries backed off (not due) and, below the health threshold, turns the run green: the outage's red
    signal hidden, and the run held ~3 min with retries that send nothing (dispatch_alerts runs one at a
    time, so every later run waits behind it). check_rules only re-reads its window's recorded summary: a
    retry cannot pass, it only delays the red run."""
    dispatch = dags["dispatch_alerts"]
    assert {t.task_id: t.retries for t in dispatch.tasks} == {"dispatch": 0, "sync": 0}
    assert dags["detect"].get_task("check_rules").retries == 0
    assert (
        dags["detect"].get_task("run_detections").retries == 2
    )  # the engine's transient failures still retry
