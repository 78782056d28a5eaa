"""alert rules: the rule that took each Stripe event

`stripe_event.alert_rule` holds the key of the ALERT_RULES rule that matched
the event when it was processed (None: no rule did), so `/stripe alerts` can
count, for the last 24 hours, what each rule took. A nullable column: a plain
ALTER TABLE ADD COLUMN on both databases, no rewrite of the table.

Revision ID: 0005_alert_rules
Revises: 0004_fraud_warning
Create Date: 2026-11-29 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_alert_rules"
down_revision: str | None = "0004_fraud_warning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stripe_event",
        sa.Column("alert_rule", sa.String(length=32), nullable=True),
    )


def downgrade() -> None:
    # A plain DROP COLUMN on both (SQLite has it since 3.35): a batch copy of
    # the table would lose 0003's seq trigger.
    op.drop_column("stripe_event", "alert_rule")
