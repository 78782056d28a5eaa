"""Stored Stripe events: intake, claims for processing, outcomes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import insert_ignore, rowcount
from storage.models import StripeEvent


async def store_event(
    session: AsyncSession,
    *,
    event_id: str,
    type: str,
    livemode: bool,
    created: int,
    object_id: str | None,
    payload: str,
    now: float,
) -> bool:
    """Store a verified event; False when it was stored before (a redelivery)."""
    return await insert_ignore(
        session,
        StripeEvent,
        {
            "id": event_id,
            "type": type,
            "livemode": livemode,
            "created": created,
            "object_id": object_id,
            "payload": payload,
            "received_at": now,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": 0.0,
        },
    )


def _due(now: float) -> list[ColumnElement[bool]]:
    return [
        col(StripeEvent.status) == "pending",
        col(StripeEvent.next_attempt_at) <= now,
        or_(
            col(StripeEvent.claimed_until).is_(None),
            col(StripeEvent.claimed_until) < now,
        ),
    ]


async def claim_due_events(
    session: AsyncSession, *, claimant: str, now: float, lease: float, limit: int
) -> Sequence[StripeEvent]:
    """Take up to `limit` due events for this process; others skip them."""
    ids = (
        (
            await session.execute(
                select(col(StripeEvent.id))
                .where(*_due(now))
                .order_by(col(StripeEvent.created), col(StripeEvent.received_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    await session.execute(
        update(StripeEvent)
        .where(col(StripeEvent.id).in_(ids))
        .values(claimed_by=claimant, claimed_until=now + lease)
    )
    rows = await session.execute(
        select(StripeEvent)
        .where(col(StripeEvent.id).in_(ids))
        .order_by(col(StripeEvent.created), col(StripeEvent.received_at))
    )
    return rows.scalars().all()


async def mark_processed(
    session: AsyncSession, *, event_id: str, claimant: str, now: float
) -> bool:
    """Finish an event we hold; False if our claim was lost to another process."""
    result = await session.execute(
        update(StripeEvent)
        .where(
            col(StripeEvent.id) == event_id,
            col(StripeEvent.claimed_by) == claimant,
            col(StripeEvent.status) == "pending",
        )
        .values(
            status="processed",
            processed_at=now,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
        )
    )
    return rowcount(result) == 1


async def mark_failed(
    session: AsyncSession,
    *,
    event_id: str,
    claimant: str,
    error: str,
    retry_at: float,
) -> int:
    """Record a failed attempt and when to try again; returns the attempt count."""
    await session.execute(
        update(StripeEvent)
        .where(col(StripeEvent.id) == event_id, col(StripeEvent.claimed_by) == claimant)
        .values(
            attempts=col(StripeEvent.attempts) + 1,
            next_attempt_at=retry_at,
            last_error=error[:2000],
            claimed_by=None,
            claimed_until=None,
        )
    )
    attempts = await session.scalar(
        select(col(StripeEvent.attempts)).where(col(StripeEvent.id) == event_id)
    )
    return int(attempts or 0)


async def release_claims(session: AsyncSession, *, claimant: str | None = None) -> int:
    """Free the claims of one process (at its shutdown), or every claim (at
    start-up on SQLite, where there is only ever one process)."""
    stmt = update(StripeEvent).where(col(StripeEvent.claimed_by).is_not(None))
    if claimant is not None:
        stmt = stmt.where(col(StripeEvent.claimed_by) == claimant)
    result = await session.execute(stmt.values(claimed_by=None, claimed_until=None))
    return rowcount(result)
