"""Run the real Airflow (scheduler, dag-processor, api-server, triggerer) locally, and stop every process of it.

`mamori up` / `make up-local` and the scheduler end-to-end test use this module, so the way a developer runs
mamori and the way CI proves it works are the same code.

Airflow's metadata DB and the alert ledger are databases of an embedded PostgreSQL (mamori.dev.local_pg) under
`$AIRFLOW_HOME/postgres`, started first and stopped last: every component and task process writes to them at
once, which SQLite serializes (60 s lock waits, REST 500s and failed task tries on a loaded machine).

Stopping is the sharp edge (see docs/operations.md): SIGTERM to one component's PID orphans its children, and
LocalExecutor workers ignore SIGTERM. So the components are started by one shell that leads a new session
(`setsid`); its PGID (= SID) goes into a pid file, and `stop()` sends SIGTERM to the process group, waits, then
SIGKILLs every process still in the *session*: task runners move into process groups of their own (Airflow's
supervisor calls setpgid) but stay in the session, so the session is what "everything it started" means.

One component can be restarted (`restart()`: the soak restarts the scheduler with work in flight): each runs in
a loop of the launcher that starts it again when asked, so the new process has the instance's configuration and
stays in its session.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mamori import windows
from mamori.dev import local_pg, sessions

REPO = Path(__file__).resolve().parents[3]  # include/mamori/dev/local.py -> the repository
PID_FILE = "mamori-local.pid"
# The database URLs of the running instance, as shell assignments: `mamori` commands read it (attach_env) and
# `set -a; . $AIRFLOW_HOME/mamori-local.env; set +a` gives the `airflow` CLI the same metadata DB.
ENV_FILE = "mamori-local.env"
LOG_DIR = "local-logs"
PG_DIR = "postgres"  # the embedded PostgreSQL's root under AIRFLOW_HOME
METADATA_DB, LEDGER_DB = "airflow", "mamori"
DB_VARS = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "MAMORI_LEDGER_URL")
# Environment a caller's shell may carry that would point the local instance somewhere else (tests set
# UNIT_TEST_MODE, for one): dropped unless inherit=True.
_OWN_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "MAMORI_")

# Waits between attempts of a REST call that met a 5xx, a 429, a timeout or a refused/reset connection:
# ~31 s in all, so a busy api-server gets time to recover before `mamori up` gives up.
RETRY_DELAYS: tuple[float, ...] = (1, 2, 4, 8, 16)

# How long `mamori up` gives each start-up step (components healthy, the execution API warm, the DAGs parsed).
# Generous on purpose: the launcher's exit is reported at once, so this bounds only components that are alive but
# slow. Two `mamori up` started together beside other work (load average 19-35 on 2 cores) both failed at the old
# 180 s with the api-server alive and just past its banner.
START_TIMEOUT = 600.0

# mamori.dev.executor.PATH, spelled out here so that local_env does not import Airflow's executors.
SLOT_EXECUTOR = "mamori.dev.executor.SlotLocalExecutor"


# `[core] parallelism` of a local instance: the executor slots (local_env).
LOCAL_PARALLELISM = "8"


# mamori settings of a local instance unless the caller's environment sets them (docs/operations.md, "Fourth
# round"): 30 rules per run_detections task (each task process costs seconds of parsing and start-up, more than
# small sources' queries, so they stay one task each; CloudTrail's 100+ rules, the first ticket's longest task
# as one chunk, become four that the workers share), and detect's sensor checking the lake every 10 s instead of
# 2 min (each poke a task process of a few seconds; the first detect run waited up to a whole interval for it).
LOCAL_DEFAULTS: dict[str, str] = {
    "MAMORI_DETECT_CHUNK_SIZE": "30",
    "MAMORI_DETECT_POKE_SECONDS": "10",
    # As many rule chunks of one detect run at once as the executor has slots (`[core] parallelism` below: its
    # workers and the tasks next in line, mamori.dev.executor), so a run's own cap never holds one of its chunks
    # back while a slot is free. The scheduler picks by weight, then oldest run: the first detect run's chunks
    # then take every free slot before any chunk of the second. With 4 (the workers alone), the first run's
    # fifth to ninth chunks waited on the cap while the second run's took the slots next in line, and the
    # workers, first in first out, ran those first (docs/operations.md, "Start to first ticket": 29 s for the
    # first run's chunks against 17-24 s).
    "MAMORI_DETECT_PARALLEL_CHUNKS": LOCAL_PARALLELISM,
}


# The cadence of an instance that replays a generated sample (`mamori up` without --no-generate) unless the
# environment picks one: the sample is hours of history triggered as runs (catch_up), 6 ingest DAGs x 12 windows
# an hour at the default 5-minute cadence (432 runs for 6 hours) where hourly windows take 36, and the sample's
# first ticket waits for them. Without a sample (`--no-generate`) the instance runs the project's defaults.
SAMPLE_CADENCE: dict[str, str] = {"MAMORI_INGEST_INTERVAL_MINUTES": "60"}


def sample_cadence(environ: Mapping[str, str]) -> dict[str, str]:
    """SAMPLE_CADENCE unless `environ` sets an ingest or detect interval (a developer's choice wins)."""
    chosen = ("MAMORI_INGEST_INTERVAL_MINUTES", "MAMORI_DETECT_INTERVAL_MINUTES")
    return {} if any(environ.get(k) for k in chosen) else dict(SAMPLE_CADENCE)


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
    """The environment of every Airflow process: embedded mamori (DuckDB, files), 127.0.0.1 only; start() adds
    the embedded PostgreSQL's URLs (DB_VARS) unless the caller's environment or `extra` sets them.

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
            # Airflow's LocalExecutor, holding a parallelism slot per task it has handed to its workers, so the
            # tasks wait in the scheduler and start by priority, not first in, first out (mamori.dev.executor).
            "AIRFLOW__CORE__EXECUTOR": SLOT_EXECUTOR,
            # Tasks handed to the executor: 4 running (one core's worth of workers; the default forks 32) and 4
            # next in line, so a worker never waits for the scheduler's loop.
            "AIRFLOW__CORE__PARALLELISM": LOCAL_PARALLELISM,
            # Parsing a DAG file (task start, dag-processor) took > 30 s on a loaded 2-core machine: task tries
            # failed with "Dag not found" and the dag-processor dropped DAGs until its next parse.
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
            "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "300",
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
            # Each DAG file is parsed again only when it changes (the dag-processor re-parses a file whose
            # modification time is newer at once), not every 30 s: mamori's DAG files are static, and their
            # re-parses took 30-56 s each on a loaded 2-core machine, two at a time, for nothing.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            # A run's later tasks outrank earlier tasks of later runs, so the oldest windows finish first: with
            # Airflow's default (downstream) every queued `plan` and `convert` of 36 sample runs went before the
            # first `finalize`, and the first detect window waited for nearly all of the sample's ingest.
            "AIRFLOW__CORE__DEFAULT_TASK_WEIGHT_RULE": "upstream",
            "GX_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
            # standalone starts its components as `airflow ...` from PATH: this venv's first.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), src.get("PATH", os.defpath)]),
        }
    )
    for name, value in LOCAL_DEFAULTS.items():  # the developer's own value (inherit=True) wins
        env.setdefault(name, value)
    env.update(extra or {})
    return env


# -- processes -----------------------------------------------------------------------------------------------
# Kept under their old names: tests and callers use them.
_stat = sessions.stat
session_members = sessions.members
_cmdline = sessions.cmdline


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


def instance_url(airflow_home: Path) -> str | None:
    """The URL the instance recorded for this AIRFLOW_HOME serves on (the pid file's second line)."""
    try:
        lines = pid_file(airflow_home).read_text().split()
    except OSError:
        return None
    return lines[1] if len(lines) > 1 and lines[1].startswith("http") else None


@dataclass(frozen=True)
class Instance:
    """A started instance: its process group / session id, where it serves, where it logs."""

    pgid: int
    url: str
    airflow_home: Path
    mamori_home: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None  # set when this process started it (a test); None after `up`
    db_url: str = ""  # Airflow's metadata DB (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN of every component)
    ledger_url: str = ""  # the alert ledger (MAMORI_LEDGER_URL of every task process)


# The four components `airflow standalone` runs, started by one shell that leads the session. Not standalone
# itself: its scheduler and triggerer serve logs on every interface (host "", no setting), and a local instance
# listens on 127.0.0.1 only; with one machine the api-server reads task logs from AIRFLOW_HOME/logs directly.
# Each component runs in a loop of its own shell that records its PID (RUN_DIR/<name>.pid) and starts it again
# when it exits while RUN_DIR/<name>.restart exists (restart() writes it): a restarted component gets the
# instance's environment and stays in its session, so stop() still ends it. Without a request a component that
# exits stays down, as before.
# A component whose RUN_DIR/<name>.hold exists waits until it is gone (release()): `mamori up` holds the
# triggerer back until the sample's runs are triggered (HELD_BY_UP).
_LAUNCHER = """
"$MAMORI_AIRFLOW_BIN" db migrate >> local-logs/db-migrate.log 2>&1 || exit 3
component() {
  while [ -e "local-run/$1.hold" ]; do sleep 1; done
  name=$1; shift
  while :; do
    "$MAMORI_AIRFLOW_BIN" "$@" &
    echo $! > "local-run/$name.pid"
    wait $!
    [ -e "local-run/$name.restart" ] || break
    rm -f "local-run/$name.restart"
  done > "local-logs/$name.log" 2>&1
}
component dag-processor dag-processor &
component scheduler scheduler --skip-serve-logs &
component triggerer triggerer --skip-serve-logs &
component api-server api-server &
wait
"""
RUN_DIR = "local-run"  # under AIRFLOW_HOME: the launcher's component PID files and restart requests
COMPONENTS = ("dag-processor", "scheduler", "triggerer", "api-server")
# What `mamori up` starts only once the sample's runs are triggered: mamori defers no task (its deadline callback
# runs in the executor), so the triggerer does nothing for the first ticket, and its start (two processes
# importing Airflow: the job and its trigger runner) took CPU from the three components the first ticket
# waits for, on a loaded 2-core machine (docs/operations.md, "Fourth round").
HELD_BY_UP = ("triggerer",)
# Health parts `mamori up` waits for only after it has triggered the sample's runs. The scheduler is the last
# component up (under load its warm-up of the task processes' imports, Great Expectations included, took 74 s
# of its 126 s), and nothing before the triggering needs it: the runs wait for it, queued, instead of `mamori
# up` waiting to create them.
HEALTHY_LATER = ("scheduler",)


CELERY_EXECUTOR = "CeleryExecutor"
CELERY_WORKER = "celery-worker"  # its component name in the launcher (restart(), its log)
CELERY_WORKER_LOG = f"{CELERY_WORKER}.log"


@dataclass(frozen=True)
class CeleryWorker:
    """Run the instance on CeleryExecutor with one `airflow celery worker` in its session (the default instance
    stays on LocalExecutor): the scale-out shape of docs/scale.md on one machine, for the Celery e2e test.

    The broker (Redis) is the caller's; the result backend is Airflow's default, the metadata DB (`db+` its
    URL), with Celery's extended results on so each task's row names the worker and queue that ran it.
    """

    broker_url: str
    queues: tuple[str, ...] = ("default",)
    hostname: str = "mamori-local@%h"  # Celery node name; %h = this machine's hostname
    concurrency: int = 2  # the provider's default forks 16 task slots, too many for a laptop's instance

    def env(self) -> dict[str, str]:
        return {
            "AIRFLOW__CORE__EXECUTOR": CELERY_EXECUTOR,
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": json.dumps({"result_extended": True}),
        }

    def launcher_line(self) -> str:
        """The worker's line in the launcher, a component like the others (its log in local-logs/); no log server
        (it would listen on every interface; the api-server reads AIRFLOW_HOME/logs on one machine)."""
        args = ["celery", "worker", "--skip-serve-logs", "-q", ",".join(self.queues)]
        args += ["-c", str(self.concurrency), "-H", self.hostname]
        return f"component {CELERY_WORKER} {shlex.join(args)} &\n"


def launcher(celery: CeleryWorker | None = None) -> str:
    """_LAUNCHER, plus the Celery worker's line before its `wait` when the instance runs on Celery."""
    if celery is None:
        return _LAUNCHER
    head, _, tail = _LAUNCHER.rpartition("wait\n")
    return f"{head}{celery.launcher_line()}wait\n{tail}"


def start(
    airflow_home: Path,
    mamori_home: Path,
    port: int,
    extra_env: Mapping[str, str] | None = None,
    inherit: bool = True,
    celery: CeleryWorker | None = None,
    hold: tuple[str, ...] = (),
) -> Instance:
    """Start the embedded PostgreSQL (unless the environment names both databases), then scheduler,
    dag-processor, triggerer and api-server (and a Celery worker when `celery` is given: CeleryExecutor instead
    of LocalExecutor) in a new session; refuses when an instance already runs on this AIRFLOW_HOME (two
    schedulers on one metadata DB would run every task twice). The components named in `hold` wait until
    release() lets them start."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    mamori_home.mkdir(parents=True, exist_ok=True)
    existing = running(airflow_home)
    if existing is not None:
        raise LocalAirflowError(
            f"already running on {airflow_home} (PGID {existing}); stop it with `mamori down`"
        )
    env = local_env(
        airflow_home, mamori_home, port, {**(celery.env() if celery else {}), **(extra_env or {})}, inherit
    )
    if not all(env.get(v) for v in DB_VARS):
        try:
            pg = local_pg.start(airflow_home / PG_DIR, databases=(METADATA_DB, LEDGER_DB))
        except local_pg.PostgresError as exc:
            raise LocalAirflowError(f"embedded PostgreSQL: {exc}") from None
        env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", pg.url(METADATA_DB))
        env.setdefault("MAMORI_LEDGER_URL", pg.url(LEDGER_DB))
    env["MAMORI_AIRFLOW_BIN"] = str(Path(sys.executable).with_name("airflow"))
    logs = airflow_home / LOG_DIR
    try:
        write_env_file(airflow_home, env)
        logs.mkdir(exist_ok=True)
        shutil.rmtree(airflow_home / RUN_DIR, ignore_errors=True)  # a crashed instance's PIDs and requests
        (airflow_home / RUN_DIR).mkdir()
        for name in hold:
            (airflow_home / RUN_DIR / f"{name}.hold").touch()
        proc = subprocess.Popen(  # noqa: S603 - constant script; paths come in through the environment
            ["/bin/sh", "-c", launcher(celery)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(airflow_home),
            start_new_session=True,  # setsid: PGID = SID = this PID, inherited by every component
        )
    except OSError as exc:
        local_pg.stop(airflow_home / PG_DIR)  # nothing of a start that failed stays running
        raise LocalAirflowError(f"cannot start Airflow's components in {airflow_home}: {exc}") from None
    url = env["AIRFLOW__API__BASE_URL"]
    pid_file(airflow_home).write_text(f"{proc.pid}\n{url}\n")
    return Instance(proc.pid, url, airflow_home, mamori_home, logs, proc, env[DB_VARS[0]], env[DB_VARS[1]])


def stop(airflow_home: Path, term_timeout: float = 30.0, pgid: int | None = None) -> list[int]:
    """SIGTERM Airflow's process group, wait, SIGKILL what is left of its session; then stop the embedded
    PostgreSQL (last: the components are its clients). Returns survivors of either (normally [])."""
    if pgid is None:
        pgid = running(airflow_home)  # a stale pid file (number reused by another process) is not ours
    survivors = []
    if pgid is not None:
        # LocalExecutor workers ignore SIGTERM; stray task runners left the group but not the session
        survivors = sessions.terminate(pgid, term_timeout)
    if not survivors:
        pid_file(airflow_home).unlink(missing_ok=True)
        survivors = local_pg.stop(airflow_home / PG_DIR)
        if not survivors:
            (airflow_home / ENV_FILE).unlink(missing_ok=True)
    return survivors


@dataclass(frozen=True)
class Restart:
    """What restart() did: the component's process before and after, and what was killed with it."""

    component: str
    old_pid: int
    new_pid: int
    # Every process SIGKILLed (the component and what it started, with their command lines); empty when the
    # component exited within the grace period on SIGTERM.
    killed: dict[int, str]
    seconds: float  # from the first signal until the new process was recorded


def release(airflow_home: Path, component: str) -> None:
    """Let a component that start() held back (`hold`) start now; nothing when it was not held."""
    (airflow_home / RUN_DIR / f"{component}.hold").unlink(missing_ok=True)


def component_pid(airflow_home: Path, component: str) -> int | None:
    """The live PID of one component of the instance on this AIRFLOW_HOME, as its launcher loop recorded it;
    None when it is not running (or the number now belongs to a process outside the instance's session)."""
    pgid = running(airflow_home)
    try:
        pid = int((airflow_home / RUN_DIR / f"{component}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):  # not written yet, or mid-write
        return None
    st = sessions.stat(pid)
    return pid if pgid is not None and st is not None and st[2] == pgid and st[0] != "Z" else None


def restart(airflow_home: Path, component: str, grace: float = 10.0, timeout: float = 120.0) -> Restart:
    """Restart one component of the running instance as a container restart does: SIGTERM, up to `grace`
    seconds to exit, then SIGKILL of it and every process below it (for the LocalExecutor scheduler: its worker
    processes and the task processes they run, so work in flight dies with it); its launcher loop then starts
    it again with the instance's environment, in the instance's session. grace=0 is a crash: SIGKILL at once.

    Returns once the new process is recorded (not when it is healthy: the caller knows what that means for the
    component). A component that is not running, or not started again within `timeout`, is one line naming its
    log.
    """
    names = (*COMPONENTS, CELERY_WORKER)
    if component not in names:
        raise LocalAirflowError(f"no component {component!r}; one of: {', '.join(names)}")
    log = airflow_home / LOG_DIR / f"{component}.log"
    old = component_pid(airflow_home, component)
    if old is None:
        raise LocalAirflowError(f"{component} is not running on {airflow_home}; see {log}")
    request = airflow_home / RUN_DIR / f"{component}.restart"
    request.touch()  # before any signal: the loop reads it as soon as the process exits
    t0 = time.monotonic()
    if grace > 0:
        os.kill(old, signal.SIGTERM)
        deadline = t0 + grace
        while sessions.alive(old) and time.monotonic() < deadline:
            time.sleep(0.1)
    killed = sessions.kill_tree(old) if sessions.alive(old) else {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = component_pid(airflow_home, component)
        if new is not None and new != old:
            return Restart(component, old, new, killed, time.monotonic() - t0)
        time.sleep(0.1)
    request.unlink(missing_ok=True)
    raise LocalAirflowError(f"{component} was stopped but not started again within {timeout:.0f}s; see {log}")


def write_env_file(airflow_home: Path, env: Mapping[str, str]) -> Path:
    """Record the instance's database URLs (DB_VARS) as shell assignments for attach_env and the shell."""
    path = airflow_home / ENV_FILE
    path.write_text("".join(f"{v}={shlex.quote(env[v])}\n" for v in DB_VARS), encoding="utf-8")
    return path


def attach_env(
    airflow_home: Path, environ: MutableMapping[str, str] = os.environ, instance_checked: bool = False
) -> list[str]:
    """Point a `mamori` command at the databases of the local instance running on this AIRFLOW_HOME (so
    `mamori status` after `mamori up` shows that instance's alerts and runs); variables already set win.
    Without `instance_checked` the file counts only while the embedded PostgreSQL runs (a stale file of a
    crashed instance must not point commands at nothing). Returns the names it set."""
    path = airflow_home / ENV_FILE
    if not path.is_file() or (not instance_checked and local_pg.running(airflow_home / PG_DIR) is None):
        return []
    set_now = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        if name in DB_VARS and not environ.get(name):
            environ[name] = " ".join(shlex.split(value))
            set_now.append(name)
    return set_now


def airflow_cli(
    airflow_home: Path,
    mamori_home: Path,
    argv: list[str],
    binary: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Run the `airflow` CLI against the instance `mamori up` runs on this AIRFLOW_HOME: the same configuration
    as its components (DAGs and plugins folders, executor, API URL, embedded PostgreSQL) plus the caller's own
    AIRFLOW_*/MAMORI_* settings, which win. Sourcing the env file by hand gives only the database URLs: commands
    that read the metadata DB work (`airflow dags list`), but those that parse DAG files look in
    $AIRFLOW_HOME/dags (`airflow tasks list detect`: "Dag 'detect' could not be found")."""
    if running(airflow_home) is None:
        raise LocalAirflowError(
            f"no instance of `mamori up` runs on AIRFLOW_HOME={airflow_home}; start one with `make up-local`"
        )
    url = instance_url(airflow_home) or ""
    port = urllib.parse.urlsplit(url).port
    if port is None:
        raise LocalAirflowError(
            f"{pid_file(airflow_home)} names no URL; restart with `make down && make up-local`"
        )
    env = local_env(airflow_home, mamori_home, port, inherit=True, base=environ)
    attach_env(airflow_home, env, instance_checked=True)
    cmd = [binary or str(Path(sys.executable).parent / "airflow"), *argv]
    # The user's own arguments for their own airflow CLI, no shell: nothing to sanitise.
    return subprocess.run(cmd, env=env, check=False).returncode  # noqa: S603


# -- REST API ------------------------------------------------------------------------------------------------
def _one_line(value: Any, limit: int = 200) -> str:
    """A response body or error for a one-line message: whitespace collapsed, cut at `limit`."""
    flat = " ".join(str(value).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


class Api:
    """The few Airflow REST v2 calls mamori needs, over urllib (no client library to pin).

    Every call but health() is retried with backoff (retry_delays) on a 5xx, a 429, a timeout or a refused or
    reset connection: an api-server under load answers late or not at all for a while, and the calls made here
    are idempotent (a POST of a run names its run id: a second attempt meets 409 for the run the first one
    created). When the attempts run out the error is one line naming the call and the api-server's log.
    """

    def __init__(
        self,
        url: str,
        airflow_home: Path | None = None,
        timeout: float = 30.0,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        token: str | None = None,
    ) -> None:
        """`token`: a bearer token for a remote deployment (MAMORI_AIRFLOW_TOKEN); without one, the token
        comes from /auth/token as on the local instance."""
        self.url = url.rstrip("/")
        self.airflow_home = airflow_home
        self.timeout = timeout
        self.retry_delays = retry_delays
        self._token: str | None = token

    def _log_hint(self) -> str:
        if self.airflow_home is None:
            return "see the api-server's log"
        return f"see {self.airflow_home / LOG_DIR / 'api-server.log'}"

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True) -> tuple[int, Any, int]:
        """(status, payload, attempts) of the first answer that is not retryable; LocalAirflowError (one line)
        when every attempt failed."""
        attempts, last = 0, ""
        for delay in (*self.retry_delays, None):
            attempts += 1
            try:
                status, payload = self._raw(method, path, body, auth)
            except (OSError, http.client.HTTPException) as exc:  # timeouts, refused/reset, torn responses
                last = _one_line(f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}")
            else:
                if not _retryable(status):
                    return status, payload, attempts
                last = f"HTTP {status}: {_one_line(payload)}"
            if delay is not None:
                time.sleep(delay)
        raise LocalAirflowError(
            f"{method} {path} failed, {attempts} attempts, last: {last}; {self._log_hint()}"
        )

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
                try:
                    return resp.status, json.loads(text) if text else None
                except ValueError:  # not JSON (a proxy's page): the caller's message shows it
                    return resp.status, text.decode(errors="replace")
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                return exc.code, json.loads(text)
            except ValueError:
                return exc.code, text.decode(errors="replace")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, payload, _ = self._request(method, path, body)
        if status >= 400:
            raise LocalAirflowError(
                f"{method} {path}: HTTP {status}: {_one_line(payload)}; {self._log_hint()}"
            )
        return payload

    def token(self) -> str:
        """GET /auth/token without credentials in all-admins mode; else POST the generated admin password."""
        if self._token is None:
            status, payload, _ = self._request("GET", "/auth/token", auth=False)
            if status >= 400:
                users = self._generated_passwords()
                user, password = next(iter(users.items()))
                status, payload, _ = self._request(
                    "POST", "/auth/token", {"username": user, "password": password}, auth=False
                )
            if status >= 400 or not isinstance(payload, dict):
                raise LocalAirflowError(
                    f"cannot get an API token: HTTP {status}: {_one_line(payload)}; {self._log_hint()}"
                )
            self._token = str(payload["access_token"])
        return self._token

    def _generated_passwords(self) -> dict[str, str]:
        if self.airflow_home is None:
            raise LocalAirflowError("login required and no AIRFLOW_HOME to read the generated password from")
        path = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        users: dict[str, str] = json.loads(path.read_text())
        return users

    def health(self) -> dict[str, Any]:
        """One attempt (wait_healthy is the retry loop); OSError while the api-server is not listening yet."""
        status, payload = self._raw("GET", "/api/v2/monitor/health", auth=False)
        if status != 200 or not isinstance(payload, dict):
            raise LocalAirflowError(f"health: HTTP {status}")
        return payload

    def dag_ids(self) -> list[str]:
        payload = self.call("GET", "/api/v2/dags?limit=1000")
        return sorted(d["dag_id"] for d in payload["dags"])

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.call("PATCH", f"/api/v2/dags/{urllib.parse.quote(dag_id)}", {"is_paused": paused})

    def set_all_paused(self, paused: bool) -> list[str]:
        """Pause or unpause every DAG in one call (`dag_id_pattern=%`); returns the DAGs it matched."""
        payload = self.call("PATCH", "/api/v2/dags?dag_id_pattern=%25&limit=1000", {"is_paused": paused})
        return sorted(d["dag_id"] for d in payload["dags"])

    def reparse(self, dag_id: str) -> None:
        """Ask the dag-processor to parse the DAG's file again now (`PUT /api/v2/parseDagFile`), instead of at
        its next turn: a local instance parses a file again only when it changes (MIN_FILE_PROCESS_INTERVAL
        above), and what a parse decides from the DAG's state (an asset watcher is registered only while a DAG
        scheduled on the asset is unpaused) would otherwise wait up to 10 minutes."""
        token = self.call("GET", f"/api/v2/dags/{urllib.parse.quote(dag_id)}")["file_token"]
        self.call("PUT", f"/api/v2/parseDagFile/{urllib.parse.quote(token)}")

    def trigger(
        self,
        dag_id: str,
        start: datetime,
        end: datetime,
        run_id: str | None = None,
        exist_ok: bool = False,
        as_scheduled: bool = False,
    ) -> str:
        """A manual run for exactly the data interval [start, end) (logical date = start, as scheduled).
        exist_ok: a run with this id already there (a second `mamori up` on the same home) is fine. A 409
        after a failed attempt is this call's own run (the attempt committed but its answer was lost).
        as_scheduled: the run is due at the end of its interval (`run_after`), as the scheduler's own run of
        that window would be, instead of now: Airflow starts queued runs in `run_after` order, so runs of
        older windows start before the scheduler's run of the latest one."""
        run_id = run_id or f"mamori__{start:%Y%m%dT%H%M}"
        body = {
            "dag_run_id": run_id,
            "logical_date": start.isoformat(),
            "data_interval_start": start.isoformat(),
            "data_interval_end": end.isoformat(),
        }
        if as_scheduled:
            body["run_after"] = end.isoformat()
        path = f"/api/v2/dags/{urllib.parse.quote(dag_id)}/dagRuns"
        status, payload, attempts = self._request("POST", path, body)
        if status == 409 and (exist_ok or attempts > 1):
            return run_id
        if status >= 400:
            raise LocalAirflowError(f"POST {path}: HTTP {status}: {_one_line(payload)}; {self._log_hint()}")
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


# Each part of /api/v2/monitor/health, and the component log that says why it is not healthy.
_HEALTH_LOGS = {
    "metadatabase": "api-server.log",
    "scheduler": "scheduler.log",
    "dag_processor": "dag-processor.log",
    "triggerer": "triggerer.log",
}


def _log_dir(api: Api, instance: Instance | None) -> Path:
    if instance is not None:
        return instance.log
    return (api.airflow_home or Path(".")) / LOG_DIR


def wait_healthy(
    api: Api, timeout: float = 180.0, instance: Instance | None = None, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Until the metadata DB, scheduler, dag-processor and triggerer (less the health parts in `skip`) all report
    healthy; else one line naming what is not, and the log to read."""
    logs = _log_dir(api, instance)
    parts = [p for p in _HEALTH_LOGS if p not in skip]
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    error = "no answer"
    while time.monotonic() < deadline:
        if instance is not None and instance.proc is not None and instance.proc.poll() is not None:
            rc = instance.proc.returncode
            if rc == 3:  # the launcher's code for a failed `airflow db migrate`
                raise LocalAirflowError(f"airflow db migrate failed; see {logs / 'db-migrate.log'}")
            raise LocalAirflowError(f"the local Airflow's launcher exited ({rc}); see the logs in {logs}/")
        try:
            last = api.health()
            if all((last.get(p) or {}).get("status") == "healthy" for p in parts):
                return last
        except (OSError, http.client.HTTPException, LocalAirflowError) as exc:
            error = _one_line(f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}")
        time.sleep(1)
    if last is None:
        raise LocalAirflowError(
            f"the api-server did not answer at {api.url} within {timeout:.0f}s ({error}); "
            f"see {logs / 'api-server.log'}"
        )
    bad = [p for p in parts if (last.get(p) or {}).get("status") != "healthy"]
    raise LocalAirflowError(
        f"not healthy after {timeout:.0f}s: {', '.join(bad)}; see "
        + ", ".join(str(logs / _HEALTH_LOGS[p]) for p in bad)
    )


def warm_execution_api(api: Api, timeout: float = 300.0) -> float:
    """Until GET /execution/health answers; returns the seconds it took.

    The api-server builds its execution API (the one task processes report to) on the first /execution/ request,
    and that blocks its event loop: 116 s on a loaded 2-core machine, while a task's supervisor gives up after 5
    attempts of `[workers] execution_api_timeout` (5 s), so the first task try failed with a ReadTimeout. Warming
    it before triggering runs moves that cost out of the tasks.
    """
    t0 = time.monotonic()
    deadline = t0 + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, payload = api._raw("GET", "/execution/health", auth=False)
            if status == 200:
                return time.monotonic() - t0
            last = f"HTTP {status}: {_one_line(payload)}"
        except (OSError, http.client.HTTPException) as exc:
            last = _one_line(f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}")
        time.sleep(1)
    raise LocalAirflowError(f"GET /execution/health failed for {timeout:.0f}s ({last}); {api._log_hint()}")


def wait_dags(api: Api, wanted: set[str], timeout: float = 180.0) -> list[str]:
    """Until the dag-processor has parsed (and serialized) every wanted DAG."""
    deadline = time.monotonic() + timeout
    have: list[str] = []
    while time.monotonic() < deadline:
        have = api.dag_ids()
        if wanted <= set(have):
            return have
        time.sleep(1)
    where = (api.airflow_home or Path(".")) / LOG_DIR / "dag-processor.log"
    raise LocalAirflowError(f"DAGs missing after {timeout:.0f}s: {sorted(wanted - set(have))}; see {where}")


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
    """Start, generate the sample while Airflow's components start, wait until healthy, trigger the sample hours'
    runs and unpause every DAG (catch_up says in which order).

    The sample covers the `hours` before the current hour, so the scheduler's own hourly runs (catchup is
    off) continue where the triggered ones stop (see catch_up). `now` only places the sample.
    """
    from mamori.config import load_settings

    hour = windows.hour_floor(now)
    start_at = hour - windows.HOUR * hours
    if running(airflow_home) is not None:
        raise LocalAirflowError(f"already running on {airflow_home}; `mamori down` first")
    replay = generate and backfill and hours > 1
    pinned = sample_cadence(os.environ) if replay else {}
    inst = start(airflow_home, mamori_home, port, pinned, hold=HELD_BY_UP)
    pg = local_pg.running(airflow_home / PG_DIR)
    if pg is not None:
        say(
            f"started PostgreSQL (PID {pg.pid}, socket in {pg.socket_dir}, log {pg.root / local_pg.SERVER_LOG})"
        )
    say(f"started Airflow (PGID {inst.pgid}), logs in {inst.log}/")
    api = Api(inst.url, airflow_home)
    try:
        if generate:  # while Airflow's components start (a minute and more): they read no raw log until a run
            from mamori.dev.generate import write_samples as gen

            steps = gen(start_at, hours, seed=7)
            say(
                f"generated {hours}h of logs from {start_at:%Y-%m-%d %H:%M}Z into {mamori_home}/raw "
                f"({len(steps)} attack steps)"
            )
        say("waiting until Airflow's API and dag-processor are healthy...")
        wait_healthy(api, timeout=START_TIMEOUT, instance=inst, skip=HELD_BY_UP + HEALTHY_LATER)
        # Before any run: the first task tries would otherwise pay the execution API's start and fail.
        say(f"execution API ready after {warm_execution_api(api, timeout=START_TIMEOUT):.0f} s")
        wait_dags(api, mamori_dag_ids(), timeout=START_TIMEOUT)
        unpaused: list[str] = []

        def unpause() -> None:
            unpaused.extend(api.set_all_paused(False))  # every DAG of the dags folder (examples are off)
            say(f"unpaused {len(unpaused)} DAGs: {', '.join(unpaused)}")
            if load_settings().ingest_sqs_url:
                # The SQS watcher is registered only by a parse that sees an ingest DAG unpaused, and the first
                # parse saw them all paused: parse dags/ingest.py (every ingest DAG's file) again now, not at
                # its next turn up to MIN_FILE_PROCESS_INTERVAL later (docs/operations.md, "Event-driven ingest").
                api.reparse(min(d for d in unpaused if d.startswith("ingest_")))
                say("asked for the ingest DAGs' file to be parsed again: the SQS watcher starts with it")

        if replay:
            s = load_settings({**os.environ, **pinned})
            n = catch_up(api, start_at, hour, s.detect_lag, s.ingest_interval, s.detect_interval, unpause)
            say(f"triggered {n} runs for the sample hours; the scheduler runs the latest hour itself")
        else:
            unpause()
        for name in HELD_BY_UP:
            release(airflow_home, name)
        say(f"starting the {', '.join(HELD_BY_UP)} now (no sample task needs it; logs in {inst.log}/)")
        say(f"waiting until the {', '.join(HEALTHY_LATER)} is healthy...")
        wait_healthy(api, timeout=START_TIMEOUT, instance=inst, skip=HELD_BY_UP)
    except BaseException:  # also Ctrl-C: nothing of a half-started instance stays behind
        stop(airflow_home, pgid=inst.pgid)
        raise
    return inst


def catch_up(
    api: Api,
    start_at: datetime,
    hour: datetime,
    lag: timedelta,
    ingest_interval: timedelta = windows.HOUR,
    detect_interval: timedelta = windows.HOUR,
    unpause: Callable[[], None] | None = None,
) -> int:
    """Manual runs for the windows before the scheduler's first one (catchup is off): ingest landing windows
    [start_at, hour - one ingest interval), and the detect runs whose lag-shifted windows cover the sample up
    to there, each at its DAG's cadence. Runs, not a backfill: Airflow allows one active backfill per DAG, and
    these run ids make a second `mamori up` on the same home a no-op (409). Returns the number of runs
    triggered.

    The order is the one in which the first ticket comes soonest, older windows first: every run is due at
    the end of its interval as a scheduled run would be (Airflow starts queued runs in that order), the detect
    runs and the ingest windows the first detect run waits for are triggered while the DAGs are still paused,
    and `unpause` (when given) is called after them, so the scheduler's own run of the latest hour, created on
    unpause, cannot take one of detect's two active-run slots before the sample's first window; the other
    ingest windows follow, oldest first across sources.
    """
    n = 0
    detect_starts = windows.window_starts(start_at + lag, hour - detect_interval, detect_interval)
    for t in detect_starts:
        api.trigger("detect", t, t + detect_interval, exist_ok=True, as_scheduled=True)
        n += 1
    first_needed = detect_starts[0] + detect_interval if detect_starts else start_at
    ingest_dags = sorted(d for d in mamori_dag_ids() if d.startswith("ingest_"))
    # [hour - interval, hour) is the scheduler's own first run of each DAG.
    for t in windows.window_starts(start_at, hour - ingest_interval, ingest_interval):
        if unpause is not None and t >= first_needed:
            unpause()
            unpause = None
        for dag_id in ingest_dags:
            api.trigger(dag_id, t, t + ingest_interval, exist_ok=True, as_scheduled=True)
            n += 1
    if unpause is not None:
        unpause()
    return n


def down(airflow_home: Path, say: Any = print) -> int:
    """Stop the instance recorded for this AIRFLOW_HOME, then its PostgreSQL (also when Airflow is already
    gone); 0 when no process of either survives."""
    pgid = running(airflow_home)
    pg_root = airflow_home / PG_DIR
    pg = local_pg.running(pg_root)
    if pgid is None and pg is None and not local_pg.processes(pg_root):
        pid_file(airflow_home).unlink(missing_ok=True)
        say(f"nothing running on {airflow_home}")
        return 0
    t0 = time.monotonic()
    survivors = stop(airflow_home, pgid=pgid)
    if survivors:
        say(f"still alive after SIGKILL: {survivors}")
        return 1
    what = [f"Airflow (PGID {pgid})"] if pgid is not None else []
    what += [f"PostgreSQL (PID {pg.pid})"] if pg is not None else []
    say(
        f"stopped {' and '.join(what) or 'leftovers'} in {time.monotonic() - t0:.1f}s; no process of them is left"
    )
    return 0
