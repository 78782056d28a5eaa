"""Refund request states and the one conditional UPDATE every change is made by.

pending -> approved -> succeeded | failed; pending -> denied | expired.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import rowcount
from storage.models import RefundRequest

PENDING = "pending"
APPROVED = "approved"
SUCCEEDED = "succeeded"
FAILED = "failed"
DENIED = "denied"
EXPIRED = "expired"

# Requests whose money may still leave: they count against what is left.
OPEN_STATUSES = (PENDING, APPROVED)
# Requests a manager approved, whatever Stripe made of them since.
APPROVED_STATUSES = (APPROVED, SUCCEEDED, FAILED)
# Stripe's refund statuses in which no money went back to the customer.
REFUND_ENDED = ("failed", "canceled")


async def change_request(
    session: AsyncSession, request_id: int, where: list[Any], values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(RefundRequest)
        .where(col(RefundRequest.id) == request_id, *where)
        .values(**values)
        # Readers load rows afresh (populate_existing); nothing to sync here.
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def attempt_values(now: float, lease: float) -> dict[str, Any]:
    """The columns that take the next Stripe attempt for `lease` seconds."""
    return {
        "stripe_attempts": col(RefundRequest.stripe_attempts) + 1,
        "first_attempt_at": func.coalesce(col(RefundRequest.first_attempt_at), now),
        "next_attempt_at": now + lease,
    }
