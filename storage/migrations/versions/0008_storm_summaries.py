"""storm summaries: one message and a CSV in place of a channel's alert storm

`outbox.facts` keeps what the summary and its CSV say of each alert;
`outbox.storm_id` names the summary an alert was folded into; a
`storm_summary` row is written in the transaction that folds the alerts, so a
crash before the post loses nothing.

Revision ID: 0008_storm_summaries
Revises: 0007_connect_account
Create Date: 2026-11-29 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_storm_summaries"
down_revision: str | None = "0007_connect_account"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs on both databases: no table rebuild of the outbox.
    op.add_column("outbox", sa.Column("facts", sa.JSON(), nullable=True))
    op.add_column("outbox", sa.Column("storm_id", sa.Integer(), nullable=True))
    op.create_index("ix_outbox_storm", "outbox", ["storm_id", "id"])
    op.create_table(
        "storm_summary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column(
            "channel", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column(
            "claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("claimed_until", sa.Float(), nullable=True),
        sa.Column("upload_uncertain", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column(
            "file_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_storm_summary_open", "storm_summary", ["status", "channel"])


def downgrade() -> None:
    op.drop_index("ix_storm_summary_open", table_name="storm_summary")
    op.drop_table("storm_summary")
    op.drop_index("ix_outbox_storm", table_name="outbox")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("outbox") as batch_op:
            batch_op.drop_column("storm_id")
            batch_op.drop_column("facts")
    else:
        op.drop_column("outbox", "storm_id")
        op.drop_column("outbox", "facts")
