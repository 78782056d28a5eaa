"""Early fraud warnings: their alert, and whether it offers a refund."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import insert_ignore, rowcount
from storage.models import FraudWarning, OutboxMessage

CHECKING = "checking"
ACTIONABLE = "actionable"
CLOSED = "closed"

# The statements every refund or dispute event runs, built once with bound
# parameters: building them per call cost more than running them
# (bench/event_rate.py); SQLAlchemy's cache finds them compiled.
_OPEN_ON_CHARGES = (
    select(FraudWarning)
    .where(col(FraudWarning.charge_id).in_(bindparam("charge_ids", expanding=True)))
    .where(col(FraudWarning.state).in_((CHECKING, ACTIONABLE)))
    .order_by(col(FraudWarning.id))
)
_MOVE = (
    update(FraudWarning)
    .where(col(FraudWarning.id) == bindparam("b_warning_id"))
    .where(col(FraudWarning.state).in_(bindparam("b_from_states", expanding=True)))
    .values(
        state=bindparam("b_to_state"),
        closed_why=bindparam("b_why"),
        updated_at=bindparam("b_now"),
    )
)
_MOVE_ON_CHARGES = (
    update(FraudWarning)
    .where(col(FraudWarning.charge_id).in_(bindparam("b_charge_ids", expanding=True)))
    .where(col(FraudWarning.state) == bindparam("b_from_state"))
    .values(state=bindparam("b_to_state"), updated_at=bindparam("b_now"))
    .execution_options(synchronize_session=False)
)
_POSTED_ALERT = (
    select(OutboxMessage)
    .where(col(OutboxMessage.key) == bindparam("key"))
    .where(col(OutboxMessage.kind) == "post")
)


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


async def open_on_charges(
    session: AsyncSession, *, charge_ids: Sequence[str]
) -> Sequence[FraudWarning]:
    """The charges' warnings that offer a refund, or may once checked."""
    rows = await session.execute(_OPEN_ON_CHARGES, {"charge_ids": list(charge_ids)})
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
        _MOVE,
        {
            "b_warning_id": warning_id,
            "b_from_states": list(from_states),
            "b_to_state": to_state,
            "b_why": why,
            "b_now": now,
        },
    )
    return rowcount(result) == 1


async def move_on_charges(
    session: AsyncSession,
    *,
    charge_ids: Sequence[str],
    from_state: str,
    to_state: str,
    now: float,
) -> int:
    """Move every warning of the charges in `from_state`: one statement on the
    charge's index, whatever else is stored (a round of refund events runs it
    once)."""
    result = await session.execute(
        _MOVE_ON_CHARGES,
        {
            "b_charge_ids": list(charge_ids),
            "b_from_state": from_state,
            "b_to_state": to_state,
            "b_now": now,
        },
    )
    return rowcount(result)


async def posted_alert(session: AsyncSession, *, key: str) -> OutboxMessage | None:
    """The alert as it was first queued (None when it was never posted: a
    rule muted it); edits start from it, so they keep what it said."""
    return await session.scalar(_POSTED_ALERT, {"key": key})
