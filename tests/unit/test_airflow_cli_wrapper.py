"""`mamori airflow ...`: the airflow CLI against the instance `mamori up` runs, with the configuration of its
components, not only the database URLs that sourcing the env file gave.

A stand-in `airflow` process in its own session plays the running instance (local.running() looks for an
airflow process in the recorded session); a stand-in `airflow` binary records the arguments and environment
the wrapper runs it with. No Airflow import: this is the unit tier.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mamori.cli import main
from mamori.dev import local

URLS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://postgres@/airflow?host=/x/run",
    "MAMORI_LEDGER_URL": "postgresql+psycopg2://postgres@/mamori?host=/x/run",
}


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Path]:
    """An AIRFLOW_HOME whose pid file names a live session holding a process called `airflow`."""
    airflow_home = tmp_path / "af"
    airflow_home.mkdir()
    sleeper = tmp_path / "bin" / "airflow"
    sleeper.parent.mkdir()
    # Isolated (-I) and with a bare environment: a PYTHON* variable another test left in os.environ must not
    # stop the stand-in from starting (it failed once in a full fast-tier run and never alone).
    sleeper.write_text(f"#!{sys.executable} -I\nimport time\ntime.sleep(60)\n")  # its cmdline names airflow
    sleeper.chmod(0o755)
    proc = subprocess.Popen(
        [str(sleeper), "scheduler"],
        start_new_session=True,
        env={"PATH": os.environ["PATH"]},
        stderr=subprocess.PIPE,
    )
    try:
        local.pid_file(airflow_home).write_text(f"{proc.pid}\nhttp://127.0.0.1:8793\n")
        local.write_env_file(airflow_home, URLS)
        deadline = time.monotonic() + 10
        while local.running(airflow_home) is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if local.running(airflow_home) is None:
            err = proc.stderr.read() if proc.poll() is not None and proc.stderr else b""
            pytest.fail(f"the stand-in airflow process is not running (exit {proc.poll()}): {err!r}")
        yield airflow_home
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _recorder(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "call.json"
    fake = tmp_path / "fake-airflow"
    fake.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ)}}, open({str(out)!r}, 'w'))\n"
        "sys.exit(3)\n"
    )
    fake.chmod(0o755)
    return fake, out


def test_the_wrapper_runs_airflow_with_the_instances_configuration(instance, tmp_path):
    fake, out = _recorder(tmp_path)
    environ = {"PATH": os.environ["PATH"], "MAMORI_DETECT_CHUNK_SIZE": "7"}
    rc = local.airflow_cli(instance, tmp_path / "home", ["dags", "list", "-o", "json"], str(fake), environ)
    assert rc == 3  # airflow's own exit status, passed through
    call = json.loads(out.read_text())
    assert call["argv"] == ["dags", "list", "-o", "json"]
    env = call["env"]
    assert {k: env[k] for k in URLS} == URLS  # the running instance's databases
    assert env["AIRFLOW_HOME"] == str(instance) and env["MAMORI_HOME"] == str(tmp_path / "home")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")  # what sourcing the env file left unset
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8793"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8793/execution/"
    assert env["MAMORI_DETECT_CHUNK_SIZE"] == "7"  # the caller's own setting wins


def test_the_callers_database_url_wins(instance, tmp_path):
    fake, out = _recorder(tmp_path)
    mine = "postgresql+psycopg2://me@db/airflow"
    environ = {"PATH": os.environ["PATH"], "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": mine}
    local.airflow_cli(instance, tmp_path, ["version"], str(fake), environ)
    env = json.loads(out.read_text())["env"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == mine
    assert env["MAMORI_LEDGER_URL"] == URLS["MAMORI_LEDGER_URL"]


def test_without_a_running_instance_it_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "af"))
    monkeypatch.setenv("MAMORI_HOME", str(tmp_path / "home"))
    assert main(["airflow", "dags", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("mamori airflow: no instance of `mamori up` runs")


def test_options_after_airflow_are_airflows(tmp_path):
    from mamori.cli import build_parser

    args = build_parser().parse_args(["airflow", "tasks", "test", "-h", "--debug"])
    assert args.args == ["tasks", "test", "-h", "--debug"]
