"""Baseline: the ledger as every release before migrations created it (META.create_all at 545d4f9).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_key", sa.String(32), primary_key=True),
        sa.Column("detection_id", sa.String(100), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("log_source", sa.String(40), nullable=False),
        sa.Column("dedup_values", sa.Text, nullable=False),
        sa.Column("bucket_start", sa.String(40), nullable=False),
        sa.Column("bucket_end", sa.String(40), nullable=False),
        sa.Column("first_seen", sa.String(40), nullable=False),
        sa.Column("last_seen", sa.String(40), nullable=False),
        sa.Column("hit_count", sa.Integer, nullable=False),
        sa.Column("samples", sa.Text, nullable=False),
        sa.Column("routes", sa.Text, nullable=False),
        sa.Column("opened_window_end", sa.String(40), nullable=False),
        sa.Column("resolution", sa.String(60)),
        sa.Column("enrichment", sa.Text),
    )
    op.create_index("ix_alerts_detection_id", "alerts", ["detection_id"])
    op.create_table(
        "alert_hits",
        sa.Column("alert_key", sa.String(32), primary_key=True),
        sa.Column("window_start", sa.String(40), primary_key=True),
        sa.Column("window_end", sa.String(40), nullable=False),
        sa.Column("detection_id", sa.String(100), nullable=False),
        sa.Column("dedup_values", sa.Text, nullable=False),
        sa.Column("bucket_start", sa.String(40), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.String(40), nullable=False),
        sa.Column("last_seen", sa.String(40), nullable=False),
        sa.Column("samples", sa.Text, nullable=False),
    )
    op.create_index("ix_alert_hits_detection_id", "alert_hits", ["detection_id"])
    op.create_table(
        "deliveries",
        sa.Column("alert_key", sa.String(32), primary_key=True),
        sa.Column("output", sa.String(40), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("delivered_hits", sa.Integer, nullable=False),
        sa.Column("external_ref", sa.Text),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "suppressed",
        sa.Column("suppression_id", sa.String(100), primary_key=True),
        sa.Column("detection_id", sa.String(100), primary_key=True),
        sa.Column("window_start", sa.String(40), primary_key=True),
        sa.Column("window_end", sa.String(40), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("suppressed", "deliveries", "alert_hits", "alerts"):
        op.drop_table(table)
