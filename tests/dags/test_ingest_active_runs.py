"""How many windows of one ingest DAG run at once: MAMORI_INGEST_MAX_ACTIVE_RUNS (4 unless set). `mamori up` sets
1: its sample's windows are then ingested oldest first, one per source, and the first detect run's two windows do
not share the machine with the later ones (docs/operations.md, "Fourth round"). Parsed as the DAG processor
would."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.config import ConfigError, load_settings
from mamori.sources import SOURCES

REPO = Path(__file__).resolve().parents[2]


def _active_runs(monkeypatch, value: str | None) -> set[int]:
    from airflow.dag_processing.dagbag import DagBag

    if value is None:
        monkeypatch.delenv("MAMORI_INGEST_MAX_ACTIVE_RUNS", raising=False)
    else:
        monkeypatch.setenv("MAMORI_INGEST_MAX_ACTIVE_RUNS", value)
    bag = DagBag(str(REPO / "dags" / "ingest.py"))
    assert not bag.import_errors, bag.import_errors
    assert set(bag.dags) == {f"ingest_{s}" for s in SOURCES}
    return {d.max_active_runs for d in bag.dags.values()}


def test_every_ingest_dag_runs_as_many_windows_at_once_as_configured(monkeypatch):
    assert _active_runs(monkeypatch, None) == {4}
    assert _active_runs(monkeypatch, "1") == {1}


def test_an_active_runs_value_it_cannot_use_is_refused():
    with pytest.raises(ConfigError) as info:
        load_settings({"MAMORI_INGEST_MAX_ACTIVE_RUNS": "0"})
    assert info.value.setting == "MAMORI_INGEST_MAX_ACTIVE_RUNS"
