"""mamori.dev.local without Airflow: the environment a local instance gets, and that stop() leaves nothing behind,
even a process that ignores SIGTERM or moved to a process group of its own (as Airflow's task runners do).
The real instance is exercised by tests/e2e/test_scheduler.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mamori.dev import local

# A session like the launcher's: one child ignores SIGTERM (a LocalExecutor worker), one leaves the group.
_TREE = r"""
trap '' TERM
sleep 120 &
"$PY" -c 'import os, signal, time; os.setpgid(0, 0); signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)' &
wait
"""


def test_stop_kills_the_whole_session(tmp_path):
    proc = subprocess.Popen(
        ["/bin/sh", "-c", _TREE], env={"PY": sys.executable, "PATH": "/usr/bin:/bin"}, start_new_session=True
    )
    try:

        def groups() -> set[int]:
            return {st[1] for st in map(local._stat, local.session_members(proc.pid)) if st}

        deadline = time.monotonic() + 30
        while len(groups()) < 2 and time.monotonic() < deadline:  # until python has called setpgid
            time.sleep(0.05)
        assert len(local.session_members(proc.pid)) == 3
        assert len(groups()) == 2  # the setpgid child is outside the process group killpg reaches
        local.pid_file(tmp_path).write_text(f"{proc.pid}\nhttp://127.0.0.1:1\n")
        t0 = time.monotonic()
        assert local.stop(tmp_path, term_timeout=1.0, pgid=proc.pid) == []
        assert time.monotonic() - t0 < 10
        assert local.session_members(proc.pid) == []
        assert not local.pid_file(tmp_path).exists()
    finally:
        local.stop(tmp_path, term_timeout=0.5, pgid=proc.pid)  # no strays even when an assertion failed
        proc.wait(timeout=10)


def test_a_stale_pid_file_is_not_an_instance(tmp_path):
    """A recorded number now used by something that is not airflow must never be signalled."""
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        local.pid_file(tmp_path).write_text(f"{sleeper.pid}\n")
        assert local.running(tmp_path) is None
        assert local.stop(tmp_path) == []  # no pgid given: only a verified instance is stopped
        assert sleeper.poll() is None and not local.pid_file(tmp_path).exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_local_env_binds_loopback_and_drops_the_callers_airflow_settings(tmp_path):
    base = {
        "PATH": "/usr/bin",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW_CONN_MAMORI_GITHUB": "{}",
        "MAMORI_ENGINE": "athena",
        "HOME": "/root",
    }
    env = local.local_env(tmp_path / "af", tmp_path / "m", 8123, {"X": "1"}, inherit=False, base=base)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1" and env["AIRFLOW__API__PORT"] == "8123"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8123/execution/"
    assert env["AIRFLOW__CORE__EXECUTOR"] == local.SLOT_EXECUTOR and env["AIRFLOW__CORE__PARALLELISM"] == "8"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"
    # Parsing a DAG file took > 30 s on a loaded 2-core machine (the soak): task tries failed with "Dag not
    # found" and the dag-processor dropped ingest DAGs (REST 404) until the next parse.
    assert env["AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT"] == "300"
    assert env["AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT"] == "300"
    # Start to first ticket (docs/operations.md): unchanged DAG files are not re-parsed every 30 s, older runs
    # finish first, 30 rules per run_detections task, the detect sensor every 10 s.
    assert env["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] == "600"
    assert env["AIRFLOW__CORE__DEFAULT_TASK_WEIGHT_RULE"] == "upstream"
    assert (env["MAMORI_DETECT_CHUNK_SIZE"], env["MAMORI_DETECT_POKE_SECONDS"]) == ("30", "10")
    assert env["MAMORI_DETECT_PARALLEL_CHUNKS"] == env["AIRFLOW__CORE__PARALLELISM"] == "8"
    assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in env and "AIRFLOW_CONN_MAMORI_GITHUB" not in env
    assert "MAMORI_ENGINE" not in env and env["HOME"] == "/root" and env["X"] == "1"
    # No SQLite lock-timeout workaround: the metadata DB is the embedded PostgreSQL (start() adds its URL).
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS" not in env
    assert env["PATH"].split(":")[0] == str(local.Path(sys.executable).parent)
    kept = local.local_env(tmp_path / "af", tmp_path / "m", 8123, inherit=True, base=base)
    assert kept["AIRFLOW_CONN_MAMORI_GITHUB"] == "{}" and kept["MAMORI_ENGINE"] == "athena"
    assert (
        "AIRFLOW__CORE__UNIT_TEST_MODE" not in kept and kept["AIRFLOW__CORE__EXECUTOR"] == local.SLOT_EXECUTOR
    )
    own = local.local_env(tmp_path, tmp_path, 1, base={**base, "MAMORI_DETECT_CHUNK_SIZE": "10"})
    assert (
        own["MAMORI_DETECT_CHUNK_SIZE"] == "10" and own["MAMORI_DETECT_POKE_SECONDS"] == "10"
    )  # theirs wins
    on_postgres = local.local_env(
        tmp_path,
        tmp_path,
        1,
        inherit=True,
        base={**base, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://x"},
    )
    assert on_postgres["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql://x"  # the developer's own DB


# -- `mamori up`'s REST calls: retried when the server is busy, one line when they finally fail -------------
class _ScriptedAirflow:
    """A stand-in for Airflow's REST API on 127.0.0.1: POST dagRuns answers from a script of (status, body,
    delay) steps (the last repeats); a run whose POST ever reached the server exists afterwards (409), as
    Airflow behaves when a slow request commits after its client gave up."""

    def __init__(self, script: list[tuple[int, str, float]]) -> None:
        import http.server
        import json
        import threading

        self.script = list(script)
        self.posts: list[str] = []
        self.created: set[str] = set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: str, ctype: str = "application/json") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/auth/token":
                    self._send(201, json.dumps({"access_token": "t"}))
                else:
                    self._send(404, "{}")

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                run_id = body["dag_run_id"]
                outer.posts.append(run_id)
                status, text, delay = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                if run_id in outer.created:
                    status, text, delay = 409, json.dumps({"detail": "exists"}), 0.0
                elif status < 300 or delay:  # a slow request still commits
                    outer.created.add(run_id)
                time.sleep(delay)
                with contextlib.suppress(OSError):  # the client gave up
                    self._send(status, text or json.dumps({"dag_run_id": run_id}))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


_TRACEBACK = "Traceback (most recent call last):\n  File ...\nsqlalchemy.exc.OperationalError: locked\n"


def _window():
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 11, 1, 3, tzinfo=UTC)
    return start, start + timedelta(hours=1)


def test_trigger_retries_a_500_then_succeeds(tmp_path):
    fake = _ScriptedAirflow([(500, _TRACEBACK, 0.0), (502, "bad gateway", 0.0), (200, "", 0.0)])
    try:
        api = local.Api(fake.url, tmp_path, timeout=5, retry_delays=(0.05, 0.05, 0.05))
        run_id = api.trigger("detect", *_window())
        assert run_id == "mamori__20261101T0300" and len(fake.posts) == 3
    finally:
        fake.close()


def test_trigger_that_timed_out_but_committed_is_not_an_error(tmp_path):
    """The defect: the POST took longer than the client waits; Airflow created the run anyway. The retry
    meets 409 for the run id it asked for: that is success, not a raw TimeoutError."""
    fake = _ScriptedAirflow([(200, "", 1.5), (200, "", 0.0)])
    try:
        api = local.Api(fake.url, tmp_path, timeout=0.5, retry_delays=(0.05,))
        assert api.trigger("detect", *_window()) == "mamori__20261101T0300"
        assert len(fake.posts) == 2
    finally:
        fake.close()


def test_trigger_that_keeps_failing_reports_one_line(tmp_path):
    fake = _ScriptedAirflow([(500, _TRACEBACK, 0.0)])
    try:
        api = local.Api(fake.url, tmp_path, timeout=5, retry_delays=(0.05, 0.05))
        with pytest.raises(local.LocalAirflowError) as info:
            api.trigger("detect", *_window())
        message = str(info.value)
        assert len(fake.posts) == 3  # the first try and one per retry delay
        assert "\n" not in message
        assert "POST /api/v2/dags/detect/dagRuns" in message and "HTTP 500" in message
        assert "3 attempts" in message and str(tmp_path / "local-logs" / "api-server.log") in message
    finally:
        fake.close()


def test_mamori_up_failure_is_one_line_on_stderr(tmp_path, monkeypatch, capsys):
    """`mamori up` ends with one line saying what failed and which log to read, exit status 1: no traceback.
    Its REST calls are the real ones (catch_up against the always-500 server)."""
    from datetime import timedelta

    from mamori import cli

    fake = _ScriptedAirflow([(500, _TRACEBACK, 0.0)])
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setenv("MAMORI_HOME", str(tmp_path / "mamori"))

    def up(airflow_home, *args, **kwargs):
        api = local.Api(fake.url, airflow_home, timeout=5, retry_delays=(0.01,))
        start, _ = _window()
        local.catch_up(api, start, start + timedelta(hours=3), timedelta(hours=1))
        raise AssertionError("catch_up must fail against a server that always answers 500")

    monkeypatch.setattr(local, "up", up)
    try:
        rc = cli.main(["up", "--no-generate"])
    finally:
        fake.close()
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1  # the server's multi-line error body is flattened into it
    assert err.startswith("mamori up failed: POST /api/v2/dags/") and "api-server.log" in err


def test_commands_attach_to_the_running_instances_databases():
    """After `mamori up`, `mamori status` and friends must read the instance's PostgreSQL ledger and metadata
    DB, not the SQLite files of the demo; a variable the caller set wins; nothing is attached once stopped."""
    import shutil
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="mamori-attach-"))  # not tmp_path: see tests/unit/test_local_pg.py
    airflow_home = base / "airflow"
    try:
        pg = local.local_pg.start(airflow_home / local.PG_DIR, databases=(local.LEDGER_DB,))
        urls = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url("airflow"),
            "MAMORI_LEDGER_URL": pg.url("mamori"),
        }
        local.write_env_file(airflow_home, urls)

        environ: dict[str, str] = {}
        assert sorted(local.attach_env(airflow_home, environ)) == sorted(urls)
        assert environ == urls
        mine = {"MAMORI_LEDGER_URL": "postgresql+psycopg2://me@db/ledger"}
        assert local.attach_env(airflow_home, mine) == ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert mine["MAMORI_LEDGER_URL"] == "postgresql+psycopg2://me@db/ledger"

        import sqlalchemy as sa

        engine = sa.create_engine(environ["MAMORI_LEDGER_URL"])
        with engine.connect() as conn:  # the attached URL reaches the server
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "mamori"
        engine.dispose()

        assert local.stop(airflow_home) == []
        assert local.attach_env(airflow_home, {}) == []
        assert not (airflow_home / local.ENV_FILE).exists()
    finally:
        local.local_pg.stop(airflow_home / local.PG_DIR, timeout=5)
        shutil.rmtree(base, ignore_errors=True)


# -- CeleryExecutor: an opt-in worker in the instance's session (tests/e2e/test_celery.py runs it for real) ----
def test_the_launcher_starts_a_celery_worker_only_when_asked(tmp_path):
    """The launcher script run with a stand-in `airflow` that records its arguments: the default instance starts
    no worker; with a CeleryWorker every component plus `airflow celery worker` (its queues, concurrency and node
    name verbatim) are children of the one shell, so stop() ends them with the session."""
    fake = tmp_path / "airflow"
    # One file per call (components start at once: appends to one file could interleave), holding `arg|arg|`.
    fake.write_text('#!/bin/sh\nprintf "%s|" "$@" > "calls.$$"\n')
    fake.chmod(0o755)
    (tmp_path / "local-logs").mkdir()
    worker = local.CeleryWorker(
        "redis://127.0.0.1:1/0", queues=("q1", "q2"), hostname="w 1@%h", concurrency=3
    )
    worker_args = (
        "celery|worker|--skip-serve-logs|-q|q1,q2|-c|3|-H|w 1@%h|"  # the node name stays one argument
    )
    for celery, expected_worker in ((None, []), (worker, [worker_args])):
        for old in tmp_path.glob("calls.*"):
            old.unlink()
        done = subprocess.run(
            ["/bin/sh", "-c", local.launcher(celery)],
            cwd=tmp_path,
            env={"MAMORI_AIRFLOW_BIN": str(fake), "PATH": "/usr/bin:/bin"},
            timeout=30,
        )
        assert done.returncode == 0
        calls = [p.read_text() for p in tmp_path.glob("calls.*")]
        assert sorted(calls) == sorted(
            [
                "db|migrate|",
                "dag-processor|",
                "scheduler|--skip-serve-logs|",
                "triggerer|--skip-serve-logs|",
                "api-server|",
                *expected_worker,
            ]
        )


def test_celery_worker_env_switches_the_executor_and_extra_env_still_wins(tmp_path):
    worker = local.CeleryWorker("redis://127.0.0.1:6390/0")
    env = worker.env()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6390/0"
    assert json.loads(env["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"]) == {"result_extended": True}
    merged = local.local_env(
        tmp_path, tmp_path, 1, {**env, "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1"}, False, {}
    )
    assert merged["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert merged["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "1"
    assert (
        local.local_env(tmp_path, tmp_path, 1, inherit=False, base={})["AIRFLOW__CORE__EXECUTOR"]
        == local.SLOT_EXECUTOR
    )


def test_warm_execution_api_waits_through_a_slow_first_request(tmp_path):
    """The api-server builds its execution API on the first /execution/ request (116 s measured under load);
    warm_execution_api keeps asking until it answers 200, and fails with one line when it never does."""
    import http.server
    import threading

    answers = [("slow", 503), ("fast", 503), ("fast", 200)]
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.path)
            speed, status = answers.pop(0) if len(answers) > 1 else answers[0]
            if speed == "slow":
                time.sleep(1.0)
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = local.Api(f"http://127.0.0.1:{server.server_address[1]}", tmp_path, timeout=0.3)
        assert local.warm_execution_api(api, timeout=30) > 0
        assert set(seen) == {"/execution/health"} and len(seen) >= 3
        answers[:] = [("fast", 503)]
        with pytest.raises(local.LocalAirflowError) as info:
            local.warm_execution_api(api, timeout=1.5)
        assert "/execution/health" in str(info.value) and "HTTP 503" in str(info.value)
    finally:
        server.shutdown()
        server.server_close()


# -- restart(): one component stopped (work in flight included) and started again by its launcher loop ----------
_FAKE_AIRFLOW = """#!{python}
import os, signal, subprocess, sys, time
cmd = sys.argv[1]
if cmd == "db":
    sys.exit(0)
with open(f"starts.{{cmd}}", "a") as f:  # each start: its PID and what its environment says
    f.write(f"{{os.getpid()}} {{os.environ.get('MARK')}}\\n")
if cmd == "scheduler":  # ignores SIGTERM and runs a 'task' that left its process group, as LocalExecutor's do
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen([sys.executable, "-c", "import os, time; os.setpgid(0, 0); time.sleep(120)"])
time.sleep(120)
"""


def _starts(home, name):
    path = home / f"starts.{name}"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def test_restart_kills_a_component_with_what_it_started_and_its_loop_starts_it_again(tmp_path):
    """The real launcher script with a stand-in `airflow`: restart("scheduler") SIGKILLs the scheduler that
    ignored SIGTERM past the grace period together with its task process (moved to its own process group), and
    the launcher starts a new scheduler with the instance's environment in the instance's session; the other
    components are untouched. A component that exits on SIGTERM is not SIGKILLed; an unknown or stopped
    component is one line; a component that exits without a request stays down (no supervisor behaviour)."""
    fake = tmp_path / "airflow"
    fake.write_text(_FAKE_AIRFLOW.format(python=sys.executable))
    fake.chmod(0o755)
    (tmp_path / local.LOG_DIR).mkdir()
    (tmp_path / local.RUN_DIR).mkdir()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", local.launcher()],
        cwd=tmp_path,
        env={"MAMORI_AIRFLOW_BIN": str(fake), "PATH": "/usr/bin:/bin", "MARK": "instance-env"},
        start_new_session=True,
    )
    local.pid_file(tmp_path).write_text(f"{proc.pid}\nhttp://127.0.0.1:1\n")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            local.component_pid(tmp_path, c) and _starts(tmp_path, c) for c in local.COMPONENTS
        ):
            time.sleep(0.05)
        old = local.component_pid(tmp_path, "scheduler")
        assert old is not None
        while time.monotonic() < deadline and not local.sessions.descendants(old):
            time.sleep(0.05)
        (task,) = local.sessions.descendants(old)
        triggerer = local.component_pid(tmp_path, "triggerer")

        done = local.restart(tmp_path, "scheduler", grace=0.5, timeout=30)

        assert done.old_pid == old and done.new_pid not in (old, None)
        assert set(done.killed) == {old, task}  # SIGTERM was ignored: the scheduler and its task, SIGKILLed
        assert not local.sessions.alive(old) and not local.sessions.alive(task)
        assert local.sessions.stat(done.new_pid)[2] == proc.pid  # in the instance's session: stop() ends it
        while time.monotonic() < deadline and len(_starts(tmp_path, "scheduler")) < 2:
            time.sleep(0.05)
        assert _starts(tmp_path, "scheduler") == [f"{old} instance-env", f"{done.new_pid} instance-env"]
        assert local.component_pid(tmp_path, "triggerer") == triggerer
        assert not (tmp_path / local.RUN_DIR / "scheduler.restart").exists()

        graceful = local.restart(tmp_path, "triggerer", grace=10, timeout=30)
        assert graceful.killed == {} and graceful.new_pid != triggerer  # it exited on SIGTERM by itself

        with pytest.raises(local.LocalAirflowError, match="no component 'worker'"):
            local.restart(tmp_path, "worker")
        api = local.component_pid(tmp_path, "api-server")
        assert api is not None
        os.kill(api, signal.SIGKILL)  # no restart requested: it stays down, as before restart() existed
        while time.monotonic() < deadline and local.sessions.alive(api):
            time.sleep(0.05)
        time.sleep(0.5)
        assert (
            local.component_pid(tmp_path, "api-server") is None and len(_starts(tmp_path, "api-server")) == 1
        )
        with pytest.raises(local.LocalAirflowError, match=r"api-server is not running .*api-server\.log"):
            local.restart(tmp_path, "api-server")

        assert local.stop(tmp_path, term_timeout=1.0, pgid=proc.pid) == []
        assert not local.sessions.alive(done.new_pid)
    finally:
        local.stop(tmp_path, term_timeout=0.5, pgid=proc.pid)
        proc.wait(timeout=10)


def test_a_held_component_starts_only_once_released(tmp_path):
    """`mamori up` holds the triggerer back (local.HELD_BY_UP) until the sample's runs are triggered: the launcher
    starts the other components at once and that one only when its hold file is gone (local.release)."""
    fake = tmp_path / "airflow"
    fake.write_text('#!/bin/sh\nprintf "%s|" "$@" > "calls.$$"\n')
    fake.chmod(0o755)
    (tmp_path / local.LOG_DIR).mkdir()
    (tmp_path / local.RUN_DIR).mkdir()
    (tmp_path / local.RUN_DIR / "triggerer.hold").touch()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", local.launcher()],
        cwd=tmp_path,
        env={"MAMORI_AIRFLOW_BIN": str(fake), "PATH": "/usr/bin:/bin"},
    )

    def calls() -> list[str]:
        return sorted(p.read_text().split("|")[0] for p in tmp_path.glob("calls.*"))

    try:
        deadline = time.monotonic() + 30
        while len(calls()) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # the held loop checks every second: it had its chance to start the triggerer
        assert calls() == ["api-server", "dag-processor", "db", "scheduler"] and proc.poll() is None
        local.release(tmp_path, "triggerer")
        assert proc.wait(timeout=30) == 0
        assert calls() == ["api-server", "dag-processor", "db", "scheduler", "triggerer"]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_an_instance_replaying_the_sample_runs_hourly_unless_the_environment_picks_a_cadence():
    """The sample is six hours of history triggered as runs: at the default 5-minute cadence that would be 432
    ingest runs before the scheduler's own (36 hourly). `--no-generate` (bench/latency.py) keeps the defaults."""
    assert local.sample_cadence({}) == {"MAMORI_INGEST_INTERVAL_MINUTES": "60"}
    assert local.sample_cadence({"MAMORI_INGEST_INTERVAL_MINUTES": "15"}) == {}
    assert local.sample_cadence({"MAMORI_DETECT_INTERVAL_MINUTES": "10"}) == {}
    assert local.sample_cadence({"MAMORI_INGEST_INTERVAL_MINUTES": ""}) == local.SAMPLE_CADENCE
