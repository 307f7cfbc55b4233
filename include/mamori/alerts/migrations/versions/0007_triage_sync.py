"""Triage synced to tickets: which triage action an incident's ticket shows.

A close or reopen in mamori (CLI or view) is mirrored on the incident's GitHub issue by the next dispatch
(verdict label, a comment, the issue closed or reopened), and a verdict put on the issue by closing it there
is recorded as the incident's. Both need to know, per incident and output, the last `incident_actions` row
the ticket reflects: `deliveries.synced_action` on the incident's delivery row (NULL: none yet). Ledgers
upgraded from 0006 start with NULL everywhere, so the closes recorded before the upgrade are mirrored once by
the next dispatch, which is what an operator upgrading for this feature expects; nothing delivered is sent
again.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("synced_action", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("synced_action")
