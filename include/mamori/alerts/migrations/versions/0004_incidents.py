"""Incidents: alerts that share an entity within a horizon, grouped so a responder triages one attack once.

The demo's one attacker crossing five log sources was 26 separate alerts (and tickets); the responder did the
grouping by hand. Three new tables, nothing existing changes: `incidents` (severity with its reason, tactics,
the shared entities), `incident_alerts` (each alert's one incident) and `incident_merges` (an incident folded
into an older one when a bridging alert arrived, recorded once). Ledgers upgraded from 0003 start with no
incidents; the next detect window (or a backfill) groups the alerts it touches and their neighbours.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("severity_reason", sa.Text, nullable=False),
        sa.Column("tactics", sa.Text, nullable=False),
        sa.Column("entities", sa.Text, nullable=False),
        sa.Column("alert_count", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.String(40), nullable=False),
        sa.Column("last_seen", sa.String(40), nullable=False),
        sa.Column("opened_window_end", sa.String(40), nullable=False),
    )
    op.create_table(
        "incident_alerts",
        sa.Column("alert_key", sa.String(32), primary_key=True),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("joined_window_end", sa.String(40), nullable=False),
    )
    op.create_index("ix_incident_alerts_incident_id", "incident_alerts", ["incident_id"])
    op.create_table(
        "incident_merges",
        sa.Column("merged_id", sa.String(32), primary_key=True),
        sa.Column("into_id", sa.String(32), nullable=False),
        sa.Column("bridge_alert", sa.String(32)),
        sa.Column("window_end", sa.String(40), nullable=False),
    )
    op.create_index("ix_incident_merges_into_id", "incident_merges", ["into_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_merges_into_id", table_name="incident_merges")
    op.drop_table("incident_merges")
    op.drop_index("ix_incident_alerts_incident_id", table_name="incident_alerts")
    op.drop_table("incident_alerts")
    op.drop_table("incidents")
