"""The `health` DAG through Airflow's dag.test(): sensor, the four checks and the ledger asset, end to end."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from quality_helpers import alerts_of, ct_record, hour, land_ct, run_window

from mamori.health import freshness
from mamori.health.settings import HealthSettings

pytestmark = pytest.mark.slow


def test_health_dag_raises_a_silence_alert(settings, airflow_db, only_sources, no_gx, monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    from mamori.dev.demo import run_windows

    only_sources("cloudtrail")
    monkeypatch.setattr(freshness, "load_health_settings", lambda _dir: HealthSettings(min_history_windows=3))
    for h in range(5):
        for region in ("us-east-1", "eu-west-1"):
            if h == 4 and region == "eu-west-1":
                continue  # eu-west-1 goes silent in the last window
            recs = [ct_record(hour(h) + timedelta(seconds=i), region=region) for i in range(5)]
            land_ct(settings, recs, hour(h) + timedelta(minutes=10), region=region, tag=f"{h}{region}")
        run_window(settings, "cloudtrail", hour(h))

    dag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["health"]
    assert run_windows(dag, [hour(5)], tmp_path / "airflow.log") == []  # data interval [04:00, 05:00)
    (alert,) = alerts_of(settings, "mamori_health_silence")
    assert alert.dedup_values["region"] == "eu-west-1" and alert.first_seen == hour(4).isoformat()
