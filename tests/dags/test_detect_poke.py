"""detect's wait_for_ingest sensor checks the lake every MAMORI_DETECT_POKE_SECONDS (unset: a tenth of the detect
interval, 30 s to 2 min, so 30 s at the default 5 minutes and 120 s hourly; `mamori up`
sets 10 so the sample's first detect run starts soon after its ingest windows are finalized). Parsed as the DAG
processor would."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _poke(monkeypatch, value: str | None) -> float:
    from airflow.dag_processing.dagbag import DagBag

    if value is None:
        monkeypatch.delenv("MAMORI_DETECT_POKE_SECONDS", raising=False)
    else:
        monkeypatch.setenv("MAMORI_DETECT_POKE_SECONDS", value)
    bag = DagBag(str(REPO / "dags" / "detect.py"))
    assert not bag.import_errors, bag.import_errors
    sensor = bag.dags["detect"].get_task("wait_for_ingest")
    assert sensor.mode == "reschedule"
    return float(sensor.poke_interval)


def test_the_detect_sensor_pokes_at_the_configured_interval(monkeypatch):
    assert _poke(monkeypatch, None) == 120  # the suite's hourly cadence (tests/conftest.py)
    monkeypatch.delenv("MAMORI_INGEST_INTERVAL_MINUTES")
    assert _poke(monkeypatch, None) == 30  # the default 5-minute cadence
    assert _poke(monkeypatch, "30") == 30
