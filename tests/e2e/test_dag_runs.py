"""ingest_cloudtrail → detect through Airflow's dag.test() over generated data: alerts match the generator's
ground truth, and re-running windows changes neither the lake nor the ledger."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mamori.alerts.ledger import Ledger
from mamori.detect import sources_ready
from mamori.dev.demo import compare_ground_truth, run_windows
from mamori.dev.generate import write_samples as generate
from mamori.ingest import window_summaries
from mamori.sources import SOURCES
from mamori.windows import hours_between

pytestmark = pytest.mark.slow
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 8


def lake_digest(settings) -> dict[str, str]:
    root = Path(settings.lake_url.removeprefix("file://"))
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_ingest_and_detect_dags_over_generated_data(settings, airflow_db, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    steps = generate(START, HOURS, seed=11)
    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    ingest_dags = [bag.dags[f"ingest_{name}"] for name in SOURCES]
    detect_dag = bag.dags["detect"]
    log = tmp_path / "airflow.log"
    ingest_dates = hours_between(START, START + timedelta(hours=HOURS) + settings.ingest_interval)
    detect_dates = [t + settings.detect_lag for t in hours_between(START, START + timedelta(hours=HOURS))]

    # Detection before its ingest window is finalized must wait (the sensor's condition), not run early.
    assert not sources_ready(detect_dates[0], settings)
    for ingest_dag in ingest_dags:
        assert run_windows(ingest_dag, ingest_dates, log) == []
    assert sources_ready(detect_dates[0], settings)
    assert run_windows(detect_dag, detect_dates, log) == []
    dispatch_dag = bag.dags["dispatch_alerts"]
    assert run_windows(dispatch_dag, detect_dates[-1:], log) == []

    wins = window_summaries("cloudtrail", settings)
    assert len(wins) == len(ingest_dates)
    assert sum(w.records_in for w in wins) == sum(w.rows_out + w.quarantined for w in wins) > 5_000

    ledger = Ledger(settings.ledger_url)
    missed, noise = compare_ground_truth(steps, ledger.alerts())
    assert missed == [] and noise == []
    alerts = ledger.alerts()
    assert len({d for st in steps for d in st.detections}) >= 10  # stories of several sources in 8 hours
    tickets = list((Path(settings.outbox_url.removeprefix("file://")) / "tickets").rglob("*.md"))
    assert len(tickets) == len(alerts) > 0

    # Every window's evaluation is noted, none by the scheduler (dag.test runs are manual): the detect deadline
    # judges none of them, and Airflow's own deadline rows for these runs were pruned when each run succeeded,
    # so a scheduler started later on this Airflow database has nothing to fire.
    windows_done = ledger.evaluations(START, START + timedelta(hours=HOURS))
    assert sorted(windows_done) == [START + timedelta(hours=h) for h in range(HOURS)]
    assert ledger.live_since() is None
    assert _airflow_deadlines("detect") == []

    lake_before, ledger_before = lake_digest(settings), ledger.dump()
    for ingest_dag in ingest_dags:
        assert run_windows(ingest_dag, ingest_dates[2:4], log) == []
    assert run_windows(detect_dag, detect_dates[2:4], log) == []
    assert run_windows(dispatch_dag, detect_dates[-1:], log) == []
    assert lake_digest(settings) == lake_before
    assert ledger.dump() == ledger_before


def _airflow_deadlines(dag_id: str) -> list[object]:
    import sqlalchemy as sa
    from airflow.models import DagRun
    from airflow.models.deadline import Deadline
    from airflow.utils.session import create_session

    with create_session() as session:
        q = (
            sa.select(Deadline.id)
            .join(DagRun, DagRun.id == Deadline.dagrun_id)
            .where(DagRun.dag_id == dag_id)
        )
        return list(session.scalars(q))
