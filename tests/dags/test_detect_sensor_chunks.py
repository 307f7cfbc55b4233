"""detect's sensor hands the rule chunks to run_detections itself: no `list_detections` task between them (under
`mamori up` on a loaded machine that task cost 9 s of the first ticket: a task process, its DAG parse and a
scheduler loop). Parsed as the DAG processor would; the sensor's body runs against a lake in tmp_path."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mamori.config import load_settings
from mamori.detect import detection_chunks
from mamori.lake import Store, layout
from mamori.lake.manifests import WindowSummary
from mamori.sources import SOURCES

REPO = Path(__file__).resolve().parents[2]


def _detect_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags" / "detect.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["detect"]


def test_the_rule_chunks_are_mapped_straight_from_the_sensor():
    dag = _detect_dag()
    assert set(dag.task_ids) == {"wait_for_ingest", "run_detections", "record", "check_rules"}
    chunks = dag.get_task("run_detections")
    assert chunks.upstream_task_ids == {"wait_for_ingest"}
    # expand(ids=<the sensor's XCom>): the mapped argument comes from the sensor's return value.
    arg = chunks.op_kwargs_expand_input.value["ids"]
    assert arg.operator.task_id == "wait_for_ingest"


def test_the_sensor_returns_the_chunks_once_the_windows_are_finalized(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMORI_HOME", str(tmp_path))
    monkeypatch.setenv("MAMORI_DETECT_LAG_MINUTES", "60")
    monkeypatch.setenv("MAMORI_DETECT_CHUNK_SIZE", "30")
    s = load_settings()
    start, end = datetime(2026, 11, 1, 11, tzinfo=UTC), datetime(2026, 11, 1, 12, tzinfo=UTC)
    poke = _detect_dag().get_task("wait_for_ingest").python_callable

    waiting = poke(data_interval_start=start, data_interval_end=end)
    assert not waiting.is_done and waiting.xcom_value is None

    lake = Store(s.lake_url, s.lake_conn_id)
    for source in SOURCES:  # what finalize_window writes for the hour [11:00, 12:00)
        doc = WindowSummary(source, start.isoformat(), end.isoformat(), late_hours=[])
        lake.write_atomic(layout.success_key(source, start), doc.to_json())
    done = poke(data_interval_start=start, data_interval_end=end)
    assert done.is_done
    assert done.xcom_value == detection_chunks(s) and max(map(len, done.xcom_value)) == 30
