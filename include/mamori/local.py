"""Run the real Airflow (scheduler, dag-processor, api-server, triggerer) locally, and stop every process of it.

`mamori up` / `make up-local` and the scheduler end-to-end test use this module, so the way a developer runs
mamori and the way CI proves it works are the same code.

Stopping is the sharp edge (see docs/operations.md): SIGTERM to one component's PID orphans its children, and
LocalExecutor workers ignore SIGTERM. So the components are started by one shell that leads a new session
(`setsid`); its PGID (= SID) goes into a pid file, and `stop()` sends SIGTERM to the process group, waits, then
SIGKILLs every process still in the *session*: task runners move into process groups of their own (Airflow's
supervisor calls setpgid) but stay in the session, so the session is what "everything it started" means.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PID_FILE = "mamori-local.pid"
LOG_DIR = "local-logs"
# Environment a caller's shell may carry that would point the local instance somewhere else (tests set
# UNIT_TEST_MODE, for one): dropped unless inherit=True.
_OWN_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "MAMORI_")


# Airflow's metadata DB is SQLite locally, shared by scheduler, dag-processor, api-server and every task
# process. sqlite3 gives up on a lock after 5 s, which a loaded laptop (or CI box) exceeds: heartbeats and API
# writes then fail. Airflow imports this dict by name (`[database] sql_alchemy_connect_args`).
SQLITE_CONNECT_ARGS: dict[str, Any] = {"timeout": 60}


class LocalAirflowError(RuntimeError):
    """The local instance did not start, did not become healthy, or a run did not succeed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_env(
    airflow_home: Path,
    mamori_home: Path,
    port: int,
    extra: Mapping[str, str] | None = None,
    inherit: bool = True,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every Airflow process: embedded mamori (SQLite, DuckDB, files), 127.0.0.1 only.

    inherit=False drops AIRFLOW__*/AIRFLOW_CONN_*/MAMORI_* from `base` (a test's own settings must not leak
    into the instance); inherit=True keeps them, so `mamori up` honours a developer's connections.
    """
    src = dict(os.environ if base is None else base)
    env = {k: v for k, v in src.items() if inherit or not k.startswith(_OWN_PREFIXES)}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    url = f"http://127.0.0.1:{port}"
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "MAMORI_HOME": str(mamori_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # One core's worth of workers; the default forks 32 of them.
            "AIRFLOW__CORE__PARALLELISM": "4",
            # No login locally (the api-server listens on 127.0.0.1 only).
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": url,
            # Task processes report to the execution API of *this* api-server (default: localhost:8080).
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            # Log servers bind ports too; two instances (or a test next to `make up-local`) must not collide.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "GX_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
            # standalone starts its components as `airflow ...` from PATH: this venv's first.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), src.get("PATH", os.defpath)]),
        }
    )
    if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env:  # the default: SQLite in AIRFLOW_HOME
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] = "mamori.local.SQLITE_CONNECT_ARGS"
    env.update(extra or {})
    return env


# -- processes -----------------------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, pgid, sid) of a process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp session ...
    return fields[0], int(fields[2]), int(fields[3])


def session_members(sid: int) -> list[int]:
    """Live processes (zombies excluded: they are dead, only not yet reaped) of a session."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st and st[2] == sid and st[0] != "Z":
                out.append(int(entry.name))
    return sorted(out)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pid_file(airflow_home: Path) -> Path:
    return airflow_home / PID_FILE


def running(airflow_home: Path) -> int | None:
    """The PGID of the instance recorded for this AIRFLOW_HOME if any process of it is still alive.

    A stale file whose number was reused by an unrelated process is not "running": some member of the
    session must be an airflow process.
    """
    path = pid_file(airflow_home)
    if not path.is_file():
        return None
    try:
        pgid = int(path.read_text().split()[0])
    except (ValueError, IndexError):
        return None
    members = session_members(pgid)
    return pgid if any("airflow" in _cmdline(p) for p in members) else None


@dataclass(frozen=True)
class Instance:
    """A started instance: its process group / session id, where it serves, where it logs."""

    pgid: int
    url: str
    airflow_home: Path
    mamori_home: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None  # set when this process started it (a test); None after `up`


# The four components `airflow standalone` runs, started by one shell that leads the session. Not standalone
# itself: its scheduler and triggerer serve logs on every interface (host "", no setting), and a local instance
# listens on 127.0.0.1 only; with one machine the api-server reads task logs from AIRFLOW_HOME/logs directly.
_LAUNCHER = """
"$MAMORI_AIRFLOW_BIN" db migrate >> local-logs/db-migrate.log 2>&1 || exit 3
"$MAMORI_AIRFLOW_BIN" dag-processor > local-logs/dag-processor.log 2>&1 &
"$MAMORI_AIRFLOW_BIN" scheduler --skip-serve-logs > local-logs/scheduler.log 2>&1 &
"$MAMORI_AIRFLOW_BIN" triggerer --skip-serve-logs > local-logs/triggerer.log 2>&1 &
"$MAMORI_AIRFLOW_BIN" api-server > local-logs/api-server.log 2>&1 &
wait
"""


def start(
    airflow_home: Path,
    mamori_home: Path,
    port: int,
    extra_env: Mapping[str, str] | None = None,
    inherit: bool = True,
) -> Instance:
    """Start scheduler, dag-processor, triggerer and api-server in a new session; refuses when an instance
    already runs on this AIRFLOW_HOME (two on one SQLite metadata DB corrupt each other)."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    mamori_home.mkdir(parents=True, exist_ok=True)
    existing = running(airflow_home)
    if existing is not None:
        raise LocalAirflowError(
            f"already running on {airflow_home} (PGID {existing}); stop it with `mamori down`"
        )
    env = local_env(airflow_home, mamori_home, port, extra_env, inherit=inherit)
    env["MAMORI_AIRFLOW_BIN"] = str(Path(sys.executable).with_name("airflow"))
    logs = airflow_home / LOG_DIR
    logs.mkdir(exist_ok=True)
    proc = subprocess.Popen(  # noqa: S603 - constant script; paths come in through the environment
        ["/bin/sh", "-c", _LAUNCHER],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=str(airflow_home),
        start_new_session=True,  # setsid: PGID = SID = this PID, inherited by every component
    )
    url = env["AIRFLOW__API__BASE_URL"]
    pid_file(airflow_home).write_text(f"{proc.pid}\n{url}\n")
    return Instance(proc.pid, url, airflow_home, mamori_home, logs, proc)


def stop(airflow_home: Path, term_timeout: float = 30.0, pgid: int | None = None) -> list[int]:
    """SIGTERM the process group, wait, SIGKILL what is left of the session; returns survivors (normally [])."""
    if pgid is None:
        pgid = running(airflow_home)  # a stale pid file (number reused by another process) is not ours
        if pgid is None:
            pid_file(airflow_home).unlink(missing_ok=True)
            return []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + term_timeout
    while session_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.25)
    for pid in session_members(pgid):  # LocalExecutor workers ignore SIGTERM; stray task runners
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while session_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = session_members(pgid)
    if not survivors:
        pid_file(airflow_home).unlink(missing_ok=True)
    return survivors


# -- REST API ------------------------------------------------------------------------------------------------
class Api:
    """The few Airflow REST v2 calls mamori needs, over urllib (no client library to pin)."""

    def __init__(self, url: str, airflow_home: Path | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.airflow_home = airflow_home
        self.timeout = timeout
        self._token: str | None = None

    def _raw(self, method: str, path: str, body: Any = None, auth: bool = True) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)  # noqa: S310 - http://127.0.0.1
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                text = resp.read()
                return resp.status, json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                return exc.code, json.loads(text)
            except ValueError:
                return exc.code, text.decode(errors="replace")

    def _retried(self, method: str, path: str, body: Any = None, retries: int = 5) -> tuple[int, Any]:
        """A busy SQLite metadata DB (503, or a 500 "Database error": the transaction was rolled back) is
        retried a few times; POSTs here are idempotent by run id."""
        status, payload = self._raw(method, path, body)
        for attempt in range(retries):
            if not (status == 503 or (status == 500 and "Database error" in str(payload))):
                break
            time.sleep(1 + attempt)
            status, payload = self._raw(method, path, body)
        return status, payload

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self._retried(method, path, body)
        if status >= 400:
            raise LocalAirflowError(f"{method} {path}: HTTP {status}: {payload}")
        return payload

    def token(self) -> str:
        """GET /auth/token without credentials in all-admins mode; else POST the generated admin password."""
        if self._token is None:
            status, payload = self._raw("GET", "/auth/token", auth=False)
            if status >= 400:
                users = self._generated_passwords()
                user, password = next(iter(users.items()))
                status, payload = self._raw(
                    "POST", "/auth/token", {"username": user, "password": password}, auth=False
                )
            if status >= 400 or not isinstance(payload, dict):
                raise LocalAirflowError(f"cannot get an API token: HTTP {status}: {payload}")
            self._token = str(payload["access_token"])
        return self._token

    def _generated_passwords(self) -> dict[str, str]:
        if self.airflow_home is None:
            raise LocalAirflowError("login required and no AIRFLOW_HOME to read the generated password from")
        path = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        users: dict[str, str] = json.loads(path.read_text())
        return users

    def health(self) -> dict[str, Any]:
        status, payload = self._raw("GET", "/api/v2/monitor/health", auth=False)
        if status != 200 or not isinstance(payload, dict):
            raise LocalAirflowError(f"health: HTTP {status}")
        return payload

    def dag_ids(self) -> list[str]:
        payload = self.call("GET", "/api/v2/dags?limit=1000")
        return sorted(d["dag_id"] for d in payload["dags"])

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/api/v2/dags/{urllib.parse.quote(dag_id)}", {"is_paused": paused})

    def trigger(
        self, dag_id: str, start: datetime, end: datetime, run_id: str | None = None, exist_ok: bool = False
    ) -> str:
        """A manual run for exactly the data interval [start, end) (logical date = start, as scheduled).
        exist_ok: a run with this id already there (a second `mamori up` on the same home) is fine."""
        run_id = run_id or f"mamori__{start:%Y%m%dT%H%M}"
        body = {
            "dag_run_id": run_id,
            "logical_date": start.isoformat(),
            "data_interval_start": start.isoformat(),
            "data_interval_end": end.isoformat(),
        }
        path = f"/api/v2/dags/{urllib.parse.quote(dag_id)}/dagRuns"
        if exist_ok:
            status, payload = self._retried("POST", path, body)
            if status == 409:
                return run_id
            if status >= 400:
                raise LocalAirflowError(f"POST {path}: HTTP {status}: {payload}")
        else:
            payload = self.call("POST", path, body)
        return str(payload["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        payload = self.call(
            "GET", f"/api/v2/dags/{urllib.parse.quote(dag_id)}/dagRuns/{urllib.parse.quote(run_id)}"
        )
        return str(payload["state"])

    def task_states(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        payload = self.call(
            "GET",
            f"/api/v2/dags/{urllib.parse.quote(dag_id)}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances",
        )
        return [
            {
                "task_id": t["task_id"],
                "map_index": t.get("map_index"),
                "state": t["state"],
                "try": t.get("try_number"),
            }
            for t in payload["task_instances"]
        ]


def wait_healthy(api: Api, timeout: float = 180.0, instance: Instance | None = None) -> dict[str, Any]:
    """Until the metadata DB, scheduler, dag-processor and triggerer all report healthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if instance is not None and instance.proc is not None and instance.proc.poll() is not None:
            raise LocalAirflowError(
                f"the local Airflow exited ({instance.proc.returncode}); see {instance.log}/"
            )
        try:
            last = api.health()
            parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
            if all((last.get(p) or {}).get("status") == "healthy" for p in parts):
                return last
        except (OSError, LocalAirflowError) as exc:
            last = exc
        time.sleep(1)
    raise LocalAirflowError(f"not healthy after {timeout:.0f}s: {last}")


def wait_dags(api: Api, wanted: set[str], timeout: float = 180.0) -> list[str]:
    """Until the dag-processor has parsed (and serialized) every wanted DAG."""
    deadline = time.monotonic() + timeout
    have: list[str] = []
    while time.monotonic() < deadline:
        have = api.dag_ids()
        if wanted <= set(have):
            return have
        time.sleep(1)
    raise LocalAirflowError(f"DAGs missing after {timeout:.0f}s: {sorted(wanted - set(have))}")


def wait_run(api: Api, dag_id: str, run_id: str, timeout: float = 300.0) -> str:
    """Until the run is finished; raises with every task's state when it failed or timed out."""
    deadline = time.monotonic() + timeout
    state = "unknown"
    while time.monotonic() < deadline:
        state = api.run_state(dag_id, run_id)
        if state == "success":
            return state
        if state == "failed":
            break
        time.sleep(1)
    raise LocalAirflowError(f"{dag_id} {run_id}: {state}; tasks: {api.task_states(dag_id, run_id)}")


def mamori_dag_ids() -> set[str]:
    from mamori.sources import SOURCES

    return {f"ingest_{s}" for s in SOURCES} | {"detect", "dispatch_alerts"}


# -- `mamori up` / `mamori down` -----------------------------------------------------------------------------
def up(
    airflow_home: Path,
    mamori_home: Path,
    port: int,
    now: datetime,
    hours: int = 6,
    generate: bool = True,
    backfill: bool = True,
    say: Any = print,
) -> Instance:
    """Sample data, start, wait until healthy, unpause every DAG, run the sample hours.

    The sample covers the `hours` before the current hour, so the scheduler's own hourly runs (catchup is
    off) continue where the triggered ones stop (see catch_up). `now` only places the sample.
    """
    from mamori.config import load_settings

    hour = now.replace(minute=0, second=0, microsecond=0)
    start_at = hour - timedelta(hours=hours)
    if running(airflow_home) is not None:
        raise LocalAirflowError(f"already running on {airflow_home}; `mamori down` first")
    if generate:
        from mamori.cli import generate as gen

        steps = gen(start_at, hours, seed=7)
        say(
            f"generated {hours}h of logs from {start_at:%Y-%m-%d %H:%M}Z into {mamori_home}/raw "
            f"({len(steps)} attack steps)"
        )
    inst = start(airflow_home, mamori_home, port)
    say(f"started Airflow (PGID {inst.pgid}), logs in {inst.log}/; waiting until healthy...")
    api = Api(inst.url, airflow_home)
    try:
        wait_healthy(api, instance=inst)
        wait_dags(api, mamori_dag_ids())
        dags = api.dag_ids()  # every DAG of the dags folder (examples are off)
        for dag_id in dags:
            api.set_paused(dag_id, False)
        say(f"unpaused {len(dags)} DAGs: {', '.join(dags)}")
        if generate and backfill and hours > 1:
            n = catch_up(api, hour - timedelta(hours=hours), hour, load_settings().detect_lag)
            say(f"triggered {n} runs for the sample hours; the scheduler runs the latest hour itself")
    except Exception:
        stop(airflow_home, pgid=inst.pgid)
        raise
    return inst


def catch_up(api: Api, start_at: datetime, hour: datetime, lag: timedelta) -> int:
    """Manual runs for the hours before the scheduler's first one (catchup is off; Airflow's backfill API
    refuses SQLite under concurrent access): ingest landing windows [start_at, hour - 1h), and the detect
    runs whose lag-shifted windows cover the sample up to there. Returns the number of runs triggered."""
    n = 0
    last = hour - timedelta(hours=1)  # [last, hour) is the scheduler's own first run of every hourly DAG
    for dag_id in sorted(d for d in mamori_dag_ids() if d.startswith("ingest_")):
        t = start_at
        while t < last:
            api.trigger(dag_id, t, t + timedelta(hours=1), exist_ok=True)
            n += 1
            t += timedelta(hours=1)
    t = start_at + lag
    while t < last:
        api.trigger("detect", t, t + timedelta(hours=1), exist_ok=True)
        n += 1
        t += timedelta(hours=1)
    return n


def down(airflow_home: Path, say: Any = print) -> int:
    """Stop the instance recorded for this AIRFLOW_HOME; 0 when no process of it survives."""
    pgid = running(airflow_home)
    if pgid is None:
        pid_file(airflow_home).unlink(missing_ok=True)
        say(f"nothing running on {airflow_home}")
        return 0
    t0 = time.monotonic()
    survivors = stop(airflow_home, pgid=pgid)
    if survivors:
        say(f"still alive after SIGKILL: {survivors}")
        return 1
    say(f"stopped (PGID {pgid}) in {time.monotonic() - t0:.1f}s; no process of its session is left")
    return 0
