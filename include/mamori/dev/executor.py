"""A LocalExecutor that counts the tasks it has handed to its workers against `[core] parallelism`, and runs
half of that many at once: the other half wait as the next in line.

Airflow 3.3's LocalExecutor puts each task on its workers' queue and forgets it: it never records the task in
`running`, so `slots_available` stays at `parallelism` and the scheduler queues every task that is ready, a few
more each loop (upstream: apache/airflow#71914, open). The workers take that queue first in, first out, so the
order the scheduler picks (priority weight, then oldest run) is lost: on `mamori up`'s sample, the plans of all
28 ingest runs were queued within two seconds and ran before any convert, every convert before any finalize,
the first detect window's ingest was done only when nearly all of the sample's was, and a detect sensor (weight
10) queued behind them waited for the whole queue.

Here a handed-out task holds its slot until the worker reports it done, so the scheduler keeps the rest
`scheduled` and picks by priority when a slot frees: what `AIRFLOW__CORE__DEFAULT_TASK_WEIGHT_RULE=upstream`
and the alert path's `priority_weight` assume. Holding slots alone made a loaded machine slower (first ticket
349 s against 308 s, two fresh clones side by side at a load average of ~11): each worker then waited for the
scheduler's next loop (seconds under load) before its next task. So only half of the slots run (the executor
forks `parallelism // 2` workers) and the other half are queued behind them: a worker always has its next task
at hand, and a high-priority task waits behind at most that many.

The tasks of dispatch_alerts (`EXPRESS_DAGS`, the alert path's last step) and detect's `record` (`EXPRESS_TASKS`,
the step before it) do not join that line: they go to one worker of their own, so a recorded window's tickets go
out as soon as the scheduler hands the task over, not after the up to `parallelism // 2` tasks already next in line
(a rule chunk or ingest task takes 5-30 s under load; the dispatch once started 27 s after `record`, and `record`
9 s after it was handed over, behind the next detect run's chunks: docs/operations.md, "Seventh round" and
"Eighth round"). Both are short (seconds) and few: dispatch_alerts runs one at a time (`max_active_runs=1`),
detect at most two runs at a time, so that worker has at most three tasks in its own line. Each still waits for
its upstream tasks in the scheduler and holds a slot; one worker runs them one after the other, so a `record`
never runs beside another or beside a dispatch (every delivery is claimed in the ledger first, as before): this
changes where they run, not what runs at once.

Only tasks hold a slot: a callback workload reports a running state as it starts, which releases it in the base
class (as before). `mamori up` (mamori.dev.local.local_env) runs it as `AIRFLOW__CORE__EXECUTOR`; everything
else is Airflow's LocalExecutor (workers forked by the scheduler, the plugin's warm-up, `--skip-serve-logs`).
"""

from __future__ import annotations

import ctypes
import multiprocessing
from collections.abc import Sequence
from multiprocessing import Process, SimpleQueue
from typing import Any

from airflow.executors import workloads
from airflow.executors.local_executor import LocalExecutor, _run_worker

# The value of AIRFLOW__CORE__EXECUTOR that selects it (Airflow loads executors by import path).
PATH = "mamori.dev.executor.SlotLocalExecutor"


# The DAGs whose tasks skip the line for the express worker: dispatch_alerts, the only DAG that talks to the
# outputs. By DAG id rather than by weight: the weights a task ends with depend on the weight rule.
EXPRESS_DAGS: frozenset[str] = frozenset({"dispatch_alerts"})
# Single tasks (DAG id, task id) that skip it too: detect's `record`, which emits the asset that runs
# dispatch_alerts. Not the rule chunks (seconds to minutes each, up to `[core] parallelism` of them per run) nor
# the sensor's pokes: they would turn the express worker into a second line.
EXPRESS_TASKS: frozenset[tuple[str, str]] = frozenset({("detect", "record")})


def is_express(workload: Any) -> bool:
    """A task workload of the alert path's last steps (dispatch_alerts, detect's `record`)."""
    if not isinstance(workload, workloads.ExecuteTask):
        return False
    key = workload.ti.key
    return key.dag_id in EXPRESS_DAGS or (key.dag_id, key.task_id) in EXPRESS_TASKS


class SlotLocalExecutor(LocalExecutor):
    """LocalExecutor whose dispatched tasks count against `parallelism` until their result is read, with
    `parallelism // 2` workers and one express worker for the alert path's last steps (is_express)."""

    express_queue: SimpleQueue[Any]
    express: Process | None = None

    @property
    def worker_count(self) -> int:
        return max(1, self.parallelism // 2)

    def start(self) -> None:
        self.express_queue = SimpleQueue()
        self._express_unread = multiprocessing.Value(ctypes.c_uint)
        super().start()
        if self.is_mp_using_fork:  # forked with the others, from the same warmed-up scheduler
            self._ensure_express()

    def _ensure_express(self) -> None:
        """Start the express worker unless it is alive: LocalExecutor's own worker loop on its own queue."""
        if self.express is not None and self.express.is_alive():
            return
        p = Process(
            target=_run_worker,
            kwargs={
                "logger_name": self.log.name,
                "input": self.express_queue,
                "output": self.result_queue,
                "unread_messages": self._express_unread,
                "team_conf": self.conf,
            },
        )
        p.start()
        self.express = p

    def _spawn_worker(self) -> None:
        # Both of LocalExecutor's spawn paths (all at once when forking, one by one when spawning) come here.
        if len(self.workers) < self.worker_count:
            super()._spawn_worker()

    def _process_workloads(self, workload_list: Sequence[Any]) -> None:
        express = [w for w in workload_list if is_express(w)]
        if express:
            self._ensure_express()
            for w in express:
                self.express_queue.put(w)
                del self.queued_tasks[w.key]
            with self._express_unread:
                self._express_unread.value += len(express)
        super()._process_workloads([w for w in workload_list if not is_express(w)])
        # BaseExecutor.change_state removes the key when the worker's result (success or failure) is read.
        self.running.update(w.ti.key for w in workload_list if isinstance(w, workloads.ExecuteTask))

    def end(self) -> None:
        # The express worker first: LocalExecutor.end() closes the result queue it reports to.
        if self.express is not None:
            if self.express.is_alive():
                self.express_queue.put(None)
                self.express.join()
            self.express.close()
            self.express = None
        super().end()
        self.express_queue.close()
