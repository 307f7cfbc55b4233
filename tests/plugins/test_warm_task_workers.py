"""The plugin's listener warms Great Expectations up where Airflow forks task processes from, and nowhere else.

Airflow's scheduler Job calls the listeners' on_starting before its executor starts; a LocalExecutor then forks
its workers, and each worker forks one process per task, so what the scheduler loaded there every convert task
inherits (tests/quality/test_dq_warm_up.py). The dag-processor and triggerer Jobs call on_starting too, as does
each task process, and with CeleryExecutor the scheduler runs no task: none of them warms up. Checked through
Airflow's own Job and listener manager, in a fresh interpreter with the plugins folder configured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from mamori import ingest
calls = []
ingest.warm_worker = lambda: calls.append(sys.argv[1]) or 0.0
from mamori import detect
detect.warm_catalog = lambda: calls.append("catalog") or 0.0
from airflow.jobs.job import Job
from airflow.sdk.execution_time.task_runner import TaskRunnerMarker
from airflow.listeners.listener import get_listener_manager
for argv in (["airflow", "dag-processor"], ["airflow", "triggerer"], ["airflow", "scheduler"]):
    sys.argv = argv
    Job()
sys.argv = ["airflow", "scheduler"]  # a task process forked from the scheduler's worker keeps its argv
get_listener_manager().hook.on_starting(component=TaskRunnerMarker())
print(json.dumps(calls))
"""


@pytest.mark.slow  # a fresh interpreter importing Airflow: ~6 s each
@pytest.mark.parametrize(
    ("executor", "warmed"),
    [
        ("LocalExecutor", ["scheduler", "catalog"]),
        # `mamori up`'s executor (mamori.dev.executor)
        ("mamori.dev.executor.SlotLocalExecutor", ["scheduler", "catalog"]),
        ("CeleryExecutor", []),
    ],
)
def test_only_a_local_executor_scheduler_warms_up(tmp_path, executor, warmed):
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__EXECUTOR=executor,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == warmed
