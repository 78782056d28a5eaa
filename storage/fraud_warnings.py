"""Early fraud warnings: their alert, and whether it offers a refund."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import insert_ignore, rowcount
from storage.models import FraudWarning, OutboxMessage

CHECKING = "checking"
ACTIONABLE = "actionable"
CLOSED = "closed"


async def record(
    session: AsyncSession,
    *,
    warning_id: str,
    charge_id: str,
    payment_intent_id: str | None,
    livemode: bool,
    account: str | None,
    actionable: bool,
    alert_key: str,
    event_id: str,
    now: float,
    closed_why: str | None = None,
) -> bool:
    """Note a new warning, to be checked with Stripe (or closed at once, when
    `closed_why` says why); False if known already."""
    return await insert_ignore(
        session,
        FraudWarning,
        {
            "id": warning_id,
            "charge_id": charge_id,
            "payment_intent_id": payment_intent_id,
            "livemode": livemode,
            "account": account,
            "actionable": actionable,
            "state": CLOSED if closed_why else CHECKING,
            "closed_why": closed_why,
            "alert_key": alert_key,
            "event_id": event_id,
            "created_at": now,
            "updated_at": now,
        },
    )


async def get(session: AsyncSession, *, warning_id: str) -> FraudWarning | None:
    return await session.get(FraudWarning, warning_id)


async def to_check(
    session: AsyncSession, *, limit: int, before: float
) -> list[FraudWarning]:
    """Warnings waiting for a look at their charge, oldest first."""
    rows = await session.execute(
        select(FraudWarning)
        .where(col(FraudWarning.state) == CHECKING)
        .where(col(FraudWarning.updated_at) <= before)
        .order_by(col(FraudWarning.updated_at))
        .limit(limit)
    )
    return list(rows.scalars().all())


async def open_on_charge(
    session: AsyncSession, *, charge_id: str
) -> Sequence[FraudWarning]:
    """The charge's warnings that offer a refund, or may once checked."""
    rows = await session.execute(
        select(FraudWarning)
        .where(col(FraudWarning.charge_id) == charge_id)
        .where(col(FraudWarning.state).in_((CHECKING, ACTIONABLE)))
        .order_by(col(FraudWarning.id))
    )
    return list(rows.scalars().all())


async def move(
    session: AsyncSession,
    *,
    warning_id: str,
    from_states: Sequence[str],
    to_state: str,
    why: str | None,
    now: float,
) -> bool:
    """One conditional UPDATE: True if the warning was in `from_states`."""
    result = await session.execute(
        update(FraudWarning)
        .where(col(FraudWarning.id) == warning_id)
        .where(col(FraudWarning.state).in_(tuple(from_states)))
        .values(state=to_state, closed_why=why, updated_at=now)
    )
    return rowcount(result) == 1


async def move_on_charge(
    session: AsyncSession,
    *,
    charge_id: str,
    from_state: str,
    to_state: str,
    now: float,
) -> int:
    """Move every warning of the charge in `from_state`: one statement on the
    charge's index, whatever else is stored (every refund event runs it)."""
    result = await session.execute(
        update(FraudWarning)
        .where(col(FraudWarning.charge_id) == charge_id)
        .where(col(FraudWarning.state) == from_state)
        .values(state=to_state, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


async def posted_alert(session: AsyncSession, *, key: str) -> OutboxMessage | None:
    """The alert as it was first queued (None when it was never posted: a
    rule muted it); edits start from it, so they keep what it said."""
    return await session.scalar(
        select(OutboxMessage)
        .where(col(OutboxMessage.key) == key)
        .where(col(OutboxMessage.kind) == "post")
    )
