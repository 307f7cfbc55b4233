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

Only tasks hold a slot: a callback workload reports a running state as it starts, which releases it in the base
class (as before). `mamori up` (mamori.dev.local.local_env) runs it as `AIRFLOW__CORE__EXECUTOR`; everything
else is Airflow's LocalExecutor (workers forked by the scheduler, the plugin's warm-up, `--skip-serve-logs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.executors import workloads
from airflow.executors.local_executor import LocalExecutor

# The value of AIRFLOW__CORE__EXECUTOR that selects it (Airflow loads executors by import path).
PATH = "mamori.dev.executor.SlotLocalExecutor"


class SlotLocalExecutor(LocalExecutor):
    """LocalExecutor whose dispatched tasks count against `parallelism` until their result is read, with
    `parallelism // 2` workers."""

    @property
    def worker_count(self) -> int:
        return max(1, self.parallelism // 2)

    def _spawn_worker(self) -> None:
        # Both of LocalExecutor's spawn paths (all at once when forking, one by one when spawning) come here.
        if len(self.workers) < self.worker_count:
            super()._spawn_worker()

    def _process_workloads(self, workload_list: Sequence[Any]) -> None:
        super()._process_workloads(workload_list)
        # BaseExecutor.change_state removes the key when the worker's result (success or failure) is read.
        self.running.update(w.ti.key for w in workload_list if isinstance(w, workloads.ExecuteTask))
