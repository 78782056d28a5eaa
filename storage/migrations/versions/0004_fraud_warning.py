"""fraud warning: early fraud warnings' alerts and whether they offer a refund

Revision ID: 0004_fraud_warning
Revises: 0003
Create Date: 2026-11-29 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004_fraud_warning"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "fraud_warning",
        sa.Column("id", _text(255), nullable=False),
        sa.Column("charge_id", _text(255), nullable=False),
        sa.Column("payment_intent_id", _text(255), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("account", _text(255), nullable=True),
        sa.Column("actionable", sa.Boolean(), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("closed_why", _text(32), nullable=True),
        sa.Column("alert_key", _text(255), nullable=False),
        sa.Column("event_id", _text(255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_fraud_warning_charge_id", "fraud_warning", ["charge_id"], unique=False
    )
    op.create_index("ix_fraud_warning_state", "fraud_warning", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_fraud_warning_state", table_name="fraud_warning")
    op.drop_index("ix_fraud_warning_charge_id", table_name="fraud_warning")
    op.drop_table("fraud_warning")
