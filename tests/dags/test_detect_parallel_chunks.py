"""How many of a detect run's rule chunks run at once: MAMORI_DETECT_PARALLEL_CHUNKS (2 unless set). `mamori up`
sets its executor's slots (tests/dags/test_detect_older_run_first.py). Parsed as the DAG processor would."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[2]


def _cap(monkeypatch, value: str | None) -> int:
    from airflow.dag_processing.dagbag import DagBag

    if value is None:
        monkeypatch.delenv("MAMORI_DETECT_PARALLEL_CHUNKS", raising=False)
    else:
        monkeypatch.setenv("MAMORI_DETECT_PARALLEL_CHUNKS", value)
    bag = DagBag(str(REPO / "dags" / "detect.py"))
    assert not bag.import_errors, bag.import_errors
    return int(bag.dags["detect"].get_task("run_detections").max_active_tis_per_dagrun)


def test_rule_chunks_run_as_many_at_once_as_configured(monkeypatch):
    assert _cap(monkeypatch, None) == 2
    assert _cap(monkeypatch, "4") == 4


def test_a_parallel_chunks_value_it_cannot_use_is_refused():
    with pytest.raises(ConfigError) as info:
        load_settings({"MAMORI_DETECT_PARALLEL_CHUNKS": "0"})
    assert info.value.setting == "MAMORI_DETECT_PARALLEL_CHUNKS"
