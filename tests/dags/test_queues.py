"""MAMORI_INGEST_QUEUE / MAMORI_DETECT_QUEUE route the ingest and detect DAGs' tasks to Celery queues of their own
(docs/scale.md): a worker pool per workload, so a day of backfilled ingest cannot starve the hourly detections.

Parsed as the DAG processor would. Unset (the default, and every embedded run) no task names a queue, so each
keeps Airflow's `[operators] default_queue` and LocalExecutor behaves exactly as before.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUEUE_VARS = ("MAMORI_INGEST_QUEUE", "MAMORI_DETECT_QUEUE")


def parse(monkeypatch, **env: str):
    from airflow.dag_processing.dagbag import DagBag

    for k in QUEUE_VARS:
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    bag = DagBag(str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


def queues(bag) -> dict[str, set[str]]:
    return {dag_id: {t.queue for t in dag.tasks} for dag_id, dag in bag.dags.items()}


def test_ingest_and_detect_tasks_go_to_their_queues(monkeypatch):
    from airflow.configuration import conf

    default = conf.get("operators", "default_queue")
    by_dag = queues(
        parse(monkeypatch, MAMORI_INGEST_QUEUE="mamori_ingest", MAMORI_DETECT_QUEUE="mamori_detect")
    )
    ingest = {d for d in by_dag if d.startswith("ingest_")}
    assert len(ingest) >= 6
    for dag_id in ingest:
        assert by_dag[dag_id] == {"mamori_ingest"}, dag_id
    assert by_dag["detect"] == {"mamori_detect"}
    for dag_id in set(by_dag) - ingest - {"detect"}:
        assert by_dag[dag_id] == {default}, dag_id


def test_unset_queues_leave_every_task_on_the_default_queue(monkeypatch):
    from airflow.configuration import conf

    default = conf.get("operators", "default_queue")
    assert set().union(*queues(parse(monkeypatch)).values()) == {default}
