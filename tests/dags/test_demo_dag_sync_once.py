"""`mamori.dev.demo.dag_folder_synced_once`: the demo's dag.test() runs parse and sync the DAG folder once.

Airflow 3.3's dag.test() re-parses the DAG's bundle and re-syncs all its DAGs on every call (a cost of each of
the demo's ~20 runs, not of its data). Inside the context the first call's parse and sync stand for the rest;
the runs still succeed through Airflow, and outside it dag.test() parses on every call again.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.slow
START = datetime(2026, 11, 1, 10, tzinfo=UTC)


def test_many_runs_parse_and_sync_the_dag_folder_once(settings, airflow_db, tmp_path, monkeypatch):
    from airflow.dag_processing import dagbag as dagbag_module
    from airflow.dag_processing.dagbag import DagBag

    from mamori.dev.demo import dag_folder_synced_once, run_windows

    parsed: list[str] = []
    real = dagbag_module.BundleDagBag

    class CountingBag(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            parsed.append(str(kwargs.get("bundle_name")))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(dagbag_module, "BundleDagBag", CountingBag)
    dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["dispatch_alerts"]  # an empty ledger: quick
    log = tmp_path / "airflow.log"
    with dag_folder_synced_once():
        assert run_windows(dag, [START + timedelta(hours=h) for h in range(3)], log) == []
    assert len(parsed) == 1
    assert run_windows(dag, [START + timedelta(hours=3)], log) == []  # Airflow's own behaviour again
    assert len(parsed) == 2
