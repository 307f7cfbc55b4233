"""One writer per delivery across processes: a lease on each (alert, output) row.

Two dispatchers at once (the DAG's run beside `mamori backfill --dispatch`, or a zombie task try) both read
the same due deliveries and both sent them: 4 GitHub issues for 3 alerts, 6 Slack messages. A dispatcher
now claims a delivery with one conditional UPDATE that sets `lease_owner` / `lease_until` only while the
row is due and unleased (or its lease has expired); exactly one process sees rowcount 1 and delivers. The
lease is cleared when the outcome is recorded; a killed dispatcher's lease expires, so nothing is stuck.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(200)))
        batch.add_column(sa.Column("lease_until", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
