"""connect account: the connected account (Stripe Connect) a refund request's
payment and a dispute live in, so every later Stripe call about them sends
`Stripe-Account` (NULL: the platform's own), and its name as last read, so
every edit of their messages names it.

Revision ID: 0007_connect_account
Revises: 0006_daily_summary
Create Date: 2026-11-29 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_connect_account"
down_revision: str | None = "0006_daily_summary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("refund_request", "dispute"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column(
                    "account",
                    sqlmodel.sql.sqltypes.AutoString(length=255),
                    nullable=True,
                )
            )
            batch.add_column(sa.Column("account_name", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("refund_request", "dispute"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("account_name")
            batch.drop_column("account")
