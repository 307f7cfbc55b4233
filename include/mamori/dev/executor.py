"""A LocalExecutor that holds one `[core] parallelism` slot per task it has handed to its workers.

Airflow 3.3's LocalExecutor puts each task on its workers' queue and forgets it: it never records the task in
`running`, so `slots_available` stays at `parallelism` and the scheduler queues every task that is ready, four
more each loop (upstream: apache/airflow#71914, open). The workers take that queue first in, first out, so the
order the scheduler picks (priority weight, then oldest run) is lost: on `mamori up`'s sample, the plans of all
28 ingest runs were queued within two seconds and ran before any convert, every convert before any finalize,
and the first detect window's ingest was done only when nearly all of the sample's was; a detect sensor (weight
10) queued behind them waited for the whole queue.

Holding the slot until the worker reports the task done makes the scheduler keep the rest `scheduled` and pick
the next one by priority when a slot frees, which is what `AIRFLOW__CORE__DEFAULT_TASK_WEIGHT_RULE=upstream`
and the alert path's `priority_weight` assume. Only tasks hold a slot: a callback workload reports a running
state as it starts, which releases it in the base class (as before).

`mamori up` (mamori.dev.local.local_env) runs it as `AIRFLOW__CORE__EXECUTOR`; everything else is Airflow's
LocalExecutor (workers forked by the scheduler, the plugin's warm-up, `--skip-serve-logs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.executors import workloads
from airflow.executors.local_executor import LocalExecutor

# The value of AIRFLOW__CORE__EXECUTOR that selects it (Airflow loads executors by import path).
PATH = "mamori.dev.executor.SlotLocalExecutor"


class SlotLocalExecutor(LocalExecutor):
    """LocalExecutor whose dispatched tasks count against `parallelism` until their result is read."""

    def _process_workloads(self, workload_list: Sequence[Any]) -> None:
        super()._process_workloads(workload_list)
        # BaseExecutor.change_state removes the key when the worker's result (success or failure) is read.
        self.running.update(w.ti.key for w in workload_list if isinstance(w, workloads.ExecuteTask))
