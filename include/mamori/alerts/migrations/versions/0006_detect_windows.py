"""Detect windows: when each detection window's result was first recorded, for the detect deadline.

A window not evaluated in time raises `mamori_detect_deadline` (mamori.health.deadline); the judgement needs
when the window's result was first recorded, and whether a scheduled run (rather than a backfill or a manual
run) ever evaluated one. One new table, nothing existing changes. Ledgers upgraded from 0005 start with no
rows: windows evaluated before the upgrade are not judged, because the first scheduled window after it is
where judging starts.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detect_windows",
        sa.Column("window_start", sa.String(40), primary_key=True),
        sa.Column("window_end", sa.String(40), nullable=False),
        sa.Column("first_recorded_at", sa.String(40), nullable=False),
        sa.Column("first_scheduled_at", sa.String(40)),
    )


def downgrade() -> None:
    op.drop_table("detect_windows")
