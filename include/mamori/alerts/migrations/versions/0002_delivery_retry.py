"""Deliveries retry until they succeed: when the next attempt is due, and since when the output fails.

Before, a delivery that failed 5 times was skipped forever (an outage of ~75 minutes lost the ticket).
`next_attempt_at` carries the capped, growing backoff; `failing_since` dates the episode for the
delivery-failing health alert; state `cancelled` (set by an operator) is the only way to stop retrying.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.String(40)))
        batch.add_column(sa.Column("failing_since", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("failing_since")
        batch.drop_column("next_attempt_at")
