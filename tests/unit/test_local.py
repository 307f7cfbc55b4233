"""mamori.local without Airflow: the environment a local instance gets, and that stop() leaves nothing behind,
even a process that ignores SIGTERM or moved to a process group of its own (as Airflow's task runners do).
The real instance is exercised by tests/e2e/test_scheduler.py."""

from __future__ import annotations

import subprocess
import sys
import time

from mamori import local

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
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor" and env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"
    assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in env and "AIRFLOW_CONN_MAMORI_GITHUB" not in env
    assert "MAMORI_ENGINE" not in env and env["HOME"] == "/root" and env["X"] == "1"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] == "mamori.local.SQLITE_CONNECT_ARGS"
    assert env["PATH"].split(":")[0] == str(local.Path(sys.executable).parent)
    kept = local.local_env(tmp_path / "af", tmp_path / "m", 8123, inherit=True, base=base)
    assert kept["AIRFLOW_CONN_MAMORI_GITHUB"] == "{}" and kept["MAMORI_ENGINE"] == "athena"
    assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in kept and kept["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    on_postgres = local.local_env(
        tmp_path,
        tmp_path,
        1,
        inherit=True,
        base={**base, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://x"},
    )
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS" not in on_postgres  # sqlite3's timeout arg only
