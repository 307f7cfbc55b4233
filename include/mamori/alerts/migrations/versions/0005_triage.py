"""Triage: how an incident was handled, who did it and when.

Until now nothing recorded how an incident was handled, and on the embedded default (no ticket system to sync
from) an alert could never be closed. `incidents.status` takes two more values (open | acknowledged | closed |
merged: no DDL, it is text), `incidents.verdict` holds a closed incident's verdict (the words of the GitHub
close labels: true-positive, benign-true-positive, false-positive), and `incident_actions` is the append-only
record of every acknowledge, close and reopen. Existing incidents stay open with no verdict; nothing else
changes, so nothing delivered is sent again.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("verdict", sa.String(40)))
    op.create_table(
        "incident_actions",
        sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(40)),
        sa.Column("note", sa.Text),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_index("ix_incident_actions_incident_id", "incident_actions", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_actions_incident_id", table_name="incident_actions")
    op.drop_table("incident_actions")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("verdict")
