"""Ledger schema migrations (Alembic): an upgrade never recreates the ledger, so alert history and delivery
state (which is what keeps a ticket from being opened twice) survive every release.

`upgrade()` runs at every `Ledger` open but costs one small query when the schema is current; when it is
not, one process migrates while the others wait on a lock (a file lock next to a SQLite ledger, an advisory
lock on PostgreSQL), so concurrent task processes cannot race on DDL. A ledger made before migrations
existed (tables, no `alembic_version`) is recognised and stamped as the baseline revision first.
`mamori db upgrade|current` runs the same from the command line.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

HERE = Path(__file__).resolve().parent
BASELINE = "0001"
# The newest revision; a test checks it equals the head of versions/ (add a revision → bump this).
HEAD = "0007"


def _config(conn: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = conn
    return cfg


def current(engine: sa.Engine) -> str | None:
    """The ledger's schema revision (None: empty, or made before migrations existed)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    backend = engine.url.get_backend_name()
    database = engine.url.database
    if backend == "sqlite" and database and database != ":memory:":
        with open(f"{database}.migrate.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    elif backend == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtext('mamori_ledger_migrate'))"))
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext('mamori_ledger_migrate'))"))
                conn.commit()
    else:
        yield


def upgrade(engine: sa.Engine, revision: str = "head") -> str | None:
    """Bring the ledger to `revision`; returns the revision it was at before (None for a new ledger)."""
    before = current(engine)
    if before == HEAD and revision == "head":
        return before
    with _migration_lock(engine), engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        cfg = _config(conn)
        if before is None and sa.inspect(conn).has_table("alerts"):
            command.stamp(cfg, BASELINE)  # the pre-migration schema is exactly the baseline
        command.upgrade(cfg, revision)
    return before
