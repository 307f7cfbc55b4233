"""The detect DAG declares its deadline from `MAMORI_DETECT_DEADLINE_MINUTES`, and the health DAG checks the
deadline without waiting for ingest. Parsed as the DAG processor would under each environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def parse(monkeypatch, **env: str):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.delenv("MAMORI_DETECT_DEADLINE_MINUTES", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return DagBag(str(REPO / "dags"))


@pytest.mark.parametrize(("env", "minutes"), [({}, 30), ({"MAMORI_DETECT_DEADLINE_MINUTES": "45"}, 45)])
def test_detect_declares_its_deadline_with_the_configured_interval(monkeypatch, env, minutes):
    from airflow.sdk import DeadlineReference, SyncCallback

    bag = parse(monkeypatch, **env)
    assert bag.import_errors == {}
    (alert,) = bag.dags["detect"].deadline
    assert alert.interval == timedelta(minutes=minutes)
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert isinstance(alert.callback, SyncCallback)
    assert alert.callback.path == "mamori.health.deadline.on_detect_deadline_missed"
    assert [d for dag_id, d in bag.dags.items() if dag_id != "detect" and d.deadline] == []


def test_a_bad_deadline_setting_is_an_import_error_naming_it(monkeypatch):
    bag = parse(monkeypatch, MAMORI_DETECT_DEADLINE_MINUTES="0")
    assert bag.import_errors
    assert all("MAMORI_DETECT_DEADLINE_MINUTES" in e for e in bag.import_errors.values())


def test_the_health_dag_checks_the_deadline_without_waiting_for_ingest(monkeypatch):
    health = parse(monkeypatch).dags["health"]
    task = health.get_task("detect_deadline")
    assert task.upstream_task_ids == set()
    assert "detect_deadline" in health.get_task("record").upstream_task_ids


def test_the_record_task_notes_whether_the_scheduler_ran_the_window(monkeypatch, settings):
    """What the deadline judges by: the detect DAG's `record` task passes the run's type on. A scheduled run
    marks where judging starts; a manual one (dag.test, `mamori up`'s catch-up, backfills) does not."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from airflow.utils.types import DagRunType

    from mamori.alerts.ledger import Ledger

    record = parse(monkeypatch).dags["detect"].get_task("record").python_callable
    t = datetime(2026, 11, 1, 10, tzinfo=UTC)
    for run_type, start in ((DagRunType.MANUAL, t), (DagRunType.SCHEDULED, t + timedelta(hours=1))):
        record([[]], start, start + timedelta(hours=1), dag_run=SimpleNamespace(run_type=run_type))
    ledger = Ledger(settings.ledger_url)
    assert sorted(ledger.evaluations(t - timedelta(hours=1), t + timedelta(hours=1))) == [
        t - timedelta(hours=1),
        t,
    ]
    assert ledger.live_since() == t  # the scheduled run's window (data interval shifted back by the lag)


@pytest.mark.slow  # two dag.test() runs of detect (~2 min on 2 shared cores)
def test_dag_test_runs_the_detect_dag_without_its_deadline(airflow_db, settings):
    """Airflow 3.3.2's dag.test() fails when a run of a DAG with a deadline succeeds (it prunes the deadlines
    with the test-mode DAG, which holds the alert definitions, not their ids). The demo and the e2e tests run
    DAGs through dag.test(), so `run_windows` runs them without it (`without_deadline`): the runs succeed, the
    DAG keeps its deadline, and no deadline is left in Airflow's table for a scheduler to fire later. When this
    test's first assertion fails, Airflow fixed it: drop `without_deadline`."""
    import os
    from datetime import UTC, datetime

    import sqlalchemy as sa
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.deadline import Deadline
    from airflow.utils.session import create_session

    from mamori.dev.demo import without_deadline
    from mamori.lake import Store, layout
    from mamori.lake.manifests import WindowSummary
    from mamori.sources import SOURCES

    dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["detect"]
    # The sensor runs for real: it hands run_detections its chunks (its XCom), so the ingest windows around both
    # runs are finalized, as finalize_window does. The rest is marked done: only the run's end matters here.
    lake = Store(settings.lake_url, settings.lake_conn_id)
    for hour in range(6, 14):
        t = datetime(2026, 11, 1, hour, tzinfo=UTC)
        for source in SOURCES:
            doc = WindowSummary(source, t.isoformat(), (t + timedelta(hours=1)).isoformat(), late_hours=[])
            lake.write_atomic(layout.success_key(source, t), doc.to_json())
    SKIP = "run_detections|record|check_rules"
    with pytest.raises(Exception, match="has no attribute 'hex'"):
        dag.test(logical_date=datetime(2026, 11, 1, 10, tzinfo=UTC), mark_success_pattern=SKIP)

    with without_deadline(dag):
        run = dag.test(logical_date=datetime(2026, 11, 1, 11, tzinfo=UTC), mark_success_pattern=SKIP)
    assert "success" in str(run.state)
    assert dag.deadline and dag.deadline[0].interval == timedelta(minutes=30)
    with create_session() as session:
        assert session.scalars(sa.select(Deadline.id).where(Deadline.dagrun_id == run.id)).all() == []
