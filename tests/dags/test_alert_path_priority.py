"""detect's and dispatch_alerts' tasks outrank every ingest task in the executor's queue, so a detect run whose
ingest windows are finalized starts, and its alerts go out, before the next windows' ingest takes the slots.

The defect, measured from `mamori up` (docs/operations.md): the first detect run's sensor, weight 1, waited
behind the `convert` and `finalize` tasks of four later ingest windows, so the sample's first ticket came
after nearly all of its ingest instead of after the first two hours. Parsed as the DAG processor would."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_detect_and_dispatch_tasks_outrank_every_ingest_task():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    ingest = [t for d, dag in bag.dags.items() if d.startswith("ingest_") for t in dag.tasks]
    alert_path = bag.dags["detect"].tasks + bag.dags["dispatch_alerts"].tasks
    assert len(ingest) >= 18 and len(alert_path) >= 6
    # Whatever `[core] default_task_weight_rule` adds up (`mamori up`: upstream; Airflow's default: downstream), a
    # task's effective weight is at least its own and at most its DAG's sum: ingest's whole DAG sums to less.
    top_ingest = max(
        sum(t.priority_weight for t in dag.tasks) for d, dag in bag.dags.items() if d.startswith("ingest_")
    )
    assert min(t.priority_weight for t in alert_path) > top_ingest


def test_dispatch_outranks_every_detect_task():
    """A recorded window's tickets go out before the next detect run's rule chunks. The defect, measured from
    `mamori up` (docs/operations.md, "Fourth round"): dispatch weighed 10, a rule chunk 20 under the upstream
    weight rule (its own 10 and its sensor's), and the first ticket's dispatch waited 27 s behind the second
    sample window's chunks."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    detect_sum = sum(t.priority_weight for t in bag.dags["detect"].tasks)
    assert min(t.priority_weight for t in bag.dags["dispatch_alerts"].tasks) > detect_sum


def test_lake_compaction_yields_to_every_ingest_task():
    """compact_lake's tasks weigh less than any ingest task, so with both ready the ingest goes first. The cost,
    measured from `mamori up` (docs/operations.md, "Fifth round"): on unpause the scheduler creates compact_lake's
    latest daily run, whose logical date (yesterday 01:45) is older than the sample's first ingest window, so at
    the same weight (1) its seven tasks went before that window's `plan`s and took the slots while the first
    detect window's ingest waited (it has nothing to compact then: only partitions settled for 48 h are)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    ingest = [t for d, dag in bag.dags.items() if d.startswith("ingest_") for t in dag.tasks]
    compact = bag.dags["compact_lake"].tasks
    assert len(compact) >= 6
    # Neither weight rule raises a task above its DAG's sum nor below its own weight.
    assert sum(t.priority_weight for t in compact) < min(t.priority_weight for t in ingest)
