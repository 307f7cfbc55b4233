"""`mamori up`'s executor holds a `parallelism` slot per task until its worker reports it done
(mamori.dev.executor): Airflow 3.3's LocalExecutor frees the slot as it hands the task to its workers' queue,
so the scheduler queues every ready task and the workers run them first in, first out, ignoring priority.

The executors here are not started (no worker is forked): their workers' queue is a plain queue the test reads.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import queue
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.executors import workloads
from airflow.executors.executor_loader import ExecutorLoader
from airflow.executors.executor_utils import ExecutorName
from airflow.executors.local_executor import LocalExecutor
from airflow.models.taskinstancekey import TaskInstanceKey
from airflow.utils.state import TaskInstanceState

from mamori.dev import executor as slot_executor
from mamori.dev import local

REPO = Path(__file__).resolve().parents[2]


def _task(name: str, weight: int, dag_id: str = "d", map_index: int = -1) -> Any:
    key = TaskInstanceKey(dag_id, name, "r", 1, map_index)
    return workloads.ExecuteTask.model_construct(ti=SimpleNamespace(key=key, priority_weight=weight))


def _unstarted(cls: type[LocalExecutor]) -> LocalExecutor:
    ex = cls(parallelism=2)
    ex.activity_queue = queue.SimpleQueue()  # type: ignore[assignment]
    ex.result_queue = queue.SimpleQueue()  # type: ignore[assignment]
    ex.workers = {}
    ex._unread_messages = multiprocessing.Value(ctypes.c_uint)
    ex._check_workers = lambda: None  # type: ignore[method-assign]  # no worker processes
    return ex


def _handed_out(ex: LocalExecutor) -> list[str]:
    out = []
    while not ex.activity_queue.empty():
        workload: Any = ex.activity_queue.get()
        out.append(workload.ti.key.task_id)
    return out


def _queue(ex: LocalExecutor, *tasks: Any) -> None:
    for t in tasks:
        ex.queue_workload(t, session=None)  # type: ignore[arg-type]


def test_airflows_local_executor_frees_the_slot_at_hand_off() -> None:
    """What the subclass is for (apache/airflow#71914): if this starts failing, the upstream fix has landed
    and mamori.dev.executor can go."""
    ex = _unstarted(LocalExecutor)
    _queue(ex, _task("a", 1), _task("b", 1))
    ex.heartbeat()
    assert _handed_out(ex) == ["a", "b"] and ex.slots_available == 2


def test_dispatched_tasks_hold_their_slots_until_their_result_is_read() -> None:
    ex = _unstarted(slot_executor.SlotLocalExecutor)
    first, second = _task("first", 1), _task("second", 1)
    _queue(ex, first, second)
    ex.heartbeat()
    assert _handed_out(ex) == ["first", "second"]
    assert ex.slots_available == 0 and ex.slots_occupied == 2
    # The scheduler asks for slots_available before queueing more: none, so the rest stay `scheduled` and are
    # picked by priority when a slot frees. Queued anyway, they wait in the executor, highest weight first.
    _queue(ex, _task("low", 1), _task("sensor", 10))
    ex.heartbeat()
    assert _handed_out(ex) == []
    ex.result_queue.put((first.ti.key, TaskInstanceState.SUCCESS, None))
    ex.heartbeat()  # sync() reads the result after this heartbeat's hand-off: the slot is free for the next
    assert ex.running == {second.ti.key} and ex.event_buffer[first.ti.key][0] == TaskInstanceState.SUCCESS
    ex.heartbeat()
    assert _handed_out(ex) == ["sensor"] and len(ex.running) == 2
    ex.result_queue.put((second.ti.key, TaskInstanceState.FAILED, None))
    ex.heartbeat()
    ex.heartbeat()
    assert _handed_out(ex) == ["low"] and len(ex.running) == 2 and ex.slots_available == 0


def test_half_of_the_slots_run_the_other_half_wait_next_in_line(monkeypatch: pytest.MonkeyPatch) -> None:
    forked: list[int] = []

    def fork(self: LocalExecutor) -> None:  # LocalExecutor's own: one more worker process
        forked.append(len(forked))
        self.workers[len(forked)] = SimpleNamespace(is_alive=lambda: True)  # type: ignore[assignment]

    monkeypatch.setattr(LocalExecutor, "_spawn_worker", fork)
    ex = slot_executor.SlotLocalExecutor(parallelism=8)
    ex.workers = {}
    ex._spawn_workers_with_gc_freeze(ex.parallelism)  # what start() asks for when forking
    ex._spawn_worker()  # what _check_workers asks for, one at a time, when spawning
    assert len(forked) == ex.worker_count == 4
    assert slot_executor.SlotLocalExecutor(parallelism=1).worker_count == 1


def test_mamori_up_runs_it_and_airflow_loads_it_by_path(tmp_path: Path) -> None:
    env = local.local_env(tmp_path, tmp_path, 1, inherit=False, base={})
    assert env["AIRFLOW__CORE__EXECUTOR"] == slot_executor.PATH == local.SLOT_EXECUTOR
    # The plugin's warm-up (forks_task_processes) recognises a LocalExecutor by name.
    assert "LocalExecutor" in env["AIRFLOW__CORE__EXECUTOR"]
    cls, _ = ExecutorLoader.import_executor_cls(ExecutorName(env["AIRFLOW__CORE__EXECUTOR"]))
    assert cls is slot_executor.SlotLocalExecutor and cls.is_local


def test_dispatch_tasks_skip_the_line_for_the_express_worker() -> None:
    """The alert path's last step does not wait behind the tasks next in line: the first ticket once came 15 s
    after `record` (3-8 s in the other runs) while ingest tasks of later windows filled the workers' queue."""
    from mamori.dag_defaults import ALERT_PATH_PRIORITY, DISPATCH_PRIORITY

    ex = _unstarted(slot_executor.SlotLocalExecutor)
    ex.parallelism = 4  # 2 workers, 2 next in line
    ex.express_queue = queue.SimpleQueue()  # type: ignore[assignment]
    ex._express_unread = multiprocessing.Value(ctypes.c_uint)  # type: ignore[attr-defined]
    started: list[bool] = []
    ex._ensure_express = lambda: started.append(True)  # type: ignore[method-assign]  # no worker process
    ingest = [_task(f"convert{i}", 2) for i in range(3)]
    _queue(ex, *ingest)
    ex.heartbeat()
    assert _handed_out(ex) == ["convert0", "convert1", "convert2"] and not started
    dispatch = _task("dispatch", DISPATCH_PRIORITY, "dispatch_alerts")
    chunk = _task("run_detections", 2 * ALERT_PATH_PRIORITY, "detect")
    _queue(ex, dispatch, chunk)
    ex.heartbeat()  # one slot was free: the heavier task takes it, and goes to the express worker
    assert started == [True] and ex.express_queue.get().ti.key == dispatch.ti.key and ex.express_queue.empty()
    assert _handed_out(ex) == [] and dispatch.ti.key in ex.running and len(ex.running) == 4
    assert ex._express_unread.value == 1  # type: ignore[attr-defined]
    # Its slot is held like any other until its result is read; a detect task still joins the line.
    ex.result_queue.put((dispatch.ti.key, TaskInstanceState.SUCCESS, None))
    ex.heartbeat()
    ex.heartbeat()
    assert _handed_out(ex) == ["run_detections"] and ex.express_queue.empty()


def test_record_skips_the_line_but_the_rule_chunks_do_not() -> None:
    """detect's `record` (the task whose asset runs dispatch_alerts) goes to the express worker: in a `mamori
    up` run it was handed over 1 s after its run's last chunk and started 9 s later, behind the next detect
    run's chunk already next in line (docs/operations.md, "Eighth round"). The chunks and the sensor stay in the
    line, and `record` holds its slot like any task."""
    ex = _unstarted(slot_executor.SlotLocalExecutor)
    ex.parallelism = 4  # 2 workers, 2 next in line
    ex.express_queue = queue.SimpleQueue()  # type: ignore[assignment]
    ex._express_unread = multiprocessing.Value(ctypes.c_uint)  # type: ignore[attr-defined]
    ex._ensure_express = lambda: None  # type: ignore[method-assign]  # no worker process
    chunks = [_task("run_detections", 20, "detect", i) for i in range(2)]
    sensor = _task("wait_for_ingest", 10, "detect")
    _queue(ex, *chunks, sensor)
    ex.heartbeat()
    assert _handed_out(ex) == ["run_detections", "run_detections", "wait_for_ingest"]
    assert ex.express_queue.empty()
    record = _task("record", 30, "detect")
    _queue(ex, record)
    ex.heartbeat()
    assert _handed_out(ex) == [] and ex.express_queue.get().ti.key == record.ti.key
    assert record.ti.key in ex.running and ex.slots_available == 0
    # By DAG and task id: another DAG's task named `record` waits in the line.
    other = _unstarted(slot_executor.SlotLocalExecutor)
    other.express_queue = queue.SimpleQueue()  # type: ignore[assignment]
    _queue(other, _task("record", 30, "some_dag"))
    other.heartbeat()
    assert _handed_out(other) == ["record"] and other.express_queue.empty()


def test_the_express_tasks_are_detects_record() -> None:
    """EXPRESS_TASKS names real tasks: a renamed `record` must not silently drop back into the line."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags" / "detect.py"))
    assert not bag.import_errors, bag.import_errors
    for dag_id, task_id in slot_executor.EXPRESS_TASKS:
        assert task_id in bag.dags[dag_id].task_dict
    assert {("detect", "record")} == slot_executor.EXPRESS_TASKS


def test_the_express_dags_are_the_dag_that_talks_to_the_outputs() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO / "dags" / "dispatch_alerts.py"))
    assert not bag.import_errors, bag.import_errors
    assert set(bag.dags) == set(slot_executor.EXPRESS_DAGS) == {"dispatch_alerts"}


def test_the_express_worker_starts_and_stops_with_the_executor() -> None:
    """Forked at start beside the workers (a LocalExecutor scheduler forks them from its warmed-up process) and
    ended with them: `mamori down` and a scheduler restart must not wait on it."""
    import threading

    ex = slot_executor.SlotLocalExecutor(parallelism=2)
    ex.start()
    try:
        assert ex.express is not None and ex.express.is_alive() and len(ex.workers) == 1
        pid = ex.express.pid
        assert pid not in ex.workers
    finally:
        ender = threading.Thread(target=ex.end, daemon=True)
        ender.start()
        ender.join(60)
    assert not ender.is_alive() and ex.express is None


@pytest.fixture(autouse=True)
def _no_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    """BaseExecutor.heartbeat emits gauges; nothing listens in a test."""
    monkeypatch.setattr("airflow.executors.base_executor.stats.gauge", lambda *a, **k: None)
