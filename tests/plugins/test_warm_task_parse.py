"""A task process forked from the warmed scheduler parses its DAG file without importing any module of its own.

Airflow 3's task runner parses the task's DAG file in every task process before running it. A LocalExecutor task
process is a fork of a worker forked from the scheduler, so whatever the scheduler imported before its executor
started (the plugin's listener, on_starting) the parse finds in sys.modules. Measured from `mamori up` at a load
average of ~12 before this test existed: `dag_file_parse_ms` 1.1-3.4 s for ingest tasks (mamori.ingest already
warmed for Great Expectations) but 11.8-20.7 s for every detect and dispatch_alerts task, which imported
mamori.detect and the alert outputs (PyGithub, ...) anew; about eight such tasks run one after the other on the
way to the first ticket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The scheduler's start as Airflow runs it (Job() calls the listeners' on_starting), then every DAG file parsed
# as a task process parses it; prints what the parses imported that is not Airflow's own, and the threads alive
# at the moment the executor would fork its workers.
PROBE = """
import json, runpy, sys, threading
sys.argv = ["airflow", "scheduler"]
from airflow.jobs.job import Job
Job()
threads = sorted(t.name for t in threading.enumerate())
before = set(sys.modules)
for path in sys.argv_dags:
    runpy.run_path(path)
new = sorted(m for m in set(sys.modules) - before if m.split(".")[0] != "airflow")
print(json.dumps({"threads": threads, "new": new}))
"""


@pytest.mark.slow  # a fresh interpreter importing Airflow, Great Expectations and mamori: ~20 s under load
def test_dag_files_parse_from_what_the_scheduler_loaded(tmp_path):
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        GX_ANALYTICS_ENABLED="False",
    )
    dags = sorted(str(p) for p in (REPO / "dags").glob("*.py"))
    probe = f"import sys; sys.argv_dags = {dags!r}\n" + PROBE
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=600, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["threads"] == ["MainThread"]  # a thread holding a lock at the fork would leave it locked
    assert got["new"] == []
