"""What the App Home shows: waiting refund requests and the latest alerts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import OutboxMessage, RefundRequest


async def waiting_requests(
    session: AsyncSession, *, now: float, limit: int
) -> list[RefundRequest]:
    """Pending, unexpired refund requests, oldest first."""
    rows = await session.execute(
        select(RefundRequest)
        .where(
            col(RefundRequest.status) == "pending",
            col(RefundRequest.expires_at) > now,
        )
        .order_by(col(RefundRequest.requested_at))
        .limit(limit)
    )
    return list(rows.scalars().all())


async def latest_alerts(session: AsyncSession, *, limit: int) -> list[OutboxMessage]:
    """The newest alerts for Stripe events, sent or still queued."""
    rows = await session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.key).startswith("alert:"))
        .order_by(col(OutboxMessage.id).desc())
        .limit(limit)
    )
    return list(rows.scalars().all())
