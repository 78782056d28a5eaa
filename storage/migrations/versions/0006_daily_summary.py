"""daily summary: one row per local day, claimed before the post; events by
their `created` time

The summary reads 14 days of events by Stripe's `created`; without an index
that is a scan of every event ever stored, once a day, growing without end.
ix_stripe_event_created (created, seq) serves the window in the order the
summary reads it (no sort).

Revision ID: 0006_daily_summary
Revises: 0005_alert_rules
Create Date: 2026-11-29 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_daily_summary"
down_revision: str | None = "0005_alert_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_summary",
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column(
            "claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("claimed_until", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", sa.Float(), nullable=True),
        sa.Column(
            "channel", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "file_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("posted_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index(
        "ix_stripe_event_created", "stripe_event", ["created", "seq"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_stripe_event_created", table_name="stripe_event")
    op.drop_table("daily_summary")
