"""Alembic environment: always handed a live connection by `mamori.alerts.migrations.upgrade`."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic API is supported
    raise RuntimeError("run ledger migrations with `mamori db upgrade` (mamori.alerts.migrations.upgrade)")
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
