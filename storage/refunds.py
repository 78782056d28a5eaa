"""Refund requests: creation and every state change as one conditional UPDATE.

pending -> approved -> succeeded | failed; pending -> denied | expired.
A change that can race (two clicks, two instances, a job and a click) is a
single `UPDATE … WHERE status = …`: the caller that changes one row wins.
A refund Stripe holds for a request is recorded from any state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import bindparam, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import OutboxMessage, RefundRequest
from storage.refund_attempts import (
    approved_ids,
    claim_attempt,
    fail_unrefunded,
    record_refund,
    retry_later,
    set_refund_state,
)
from storage.refund_states import (
    APPROVED,
    APPROVED_STATUSES,
    DENIED,
    EXPIRED,
    FAILED,
    OPEN_STATUSES,
    PENDING,
    REFUND_ENDED,
    SUCCEEDED,
    attempt_values,
    change_request,
)

__all__ = [
    "APPROVED",
    "APPROVED_STATUSES",
    "DENIED",
    "EXPIRED",
    "FAILED",
    "OPEN_STATUSES",
    "PENDING",
    "REFUND_ENDED",
    "SUCCEEDED",
    "NewRefundRequest",
    "approve",
    "approved_ids",
    "claim_attempt",
    "create_request",
    "deny",
    "expire",
    "expired_ids",
    "fail_unrefunded",
    "find_for_refund",
    "get_request",
    "lock_charge",
    "mark_reminded",
    "message_channel",
    "message_key",
    "open_amount_on_charge",
    "record_refund",
    "reminder_ids",
    "retry_later",
    "set_refund_state",
]

# The first key of PostgreSQL advisory locks on a charge (`lock_charge`): keeps
# them apart from any other use of advisory locks. "rfnd" in ASCII.
_CHARGE_LOCKS = 0x72666E64


def message_key(request_id: int) -> str:
    """The outbox key of a request's approval message; edits and replies use it."""
    return f"refund_request:{request_id}"


@dataclass(frozen=True, kw_only=True)
class NewRefundRequest:
    """What an agent asked for, checked against the payment in Stripe."""

    payment_id: str
    charge_id: str
    payment_intent_id: str | None
    customer_id: str | None
    customer_label: str | None
    amount: int  # minor units of `currency`
    currency: str
    payment_amount: int
    reason: str | None
    note: str | None
    livemode: bool
    requested_by: str
    requested_in: str | None
    idempotency_key: str
    account: str | None = None  # Connect: the payment's connected account
    account_name: str | None = None


async def create_request(
    session: AsyncSession, *, new: NewRefundRequest, now: float, ttl_seconds: float
) -> RefundRequest:
    """Add a pending request; its id and message key are set on return."""
    row = RefundRequest(
        **asdict(new)
        | {
            "status": PENDING,
            "currency": new.currency.lower(),
            "requested_at": now,
            "expires_at": now + ttl_seconds,
        }
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    row.message_key = message_key(row.id)
    await session.flush()
    return row


async def message_channel(session: AsyncSession, *, key: str) -> str | None:
    """The channel the approval message went to (replies go beside it)."""
    channel: str | None = await session.scalar(
        select(col(OutboxMessage.channel)).where(col(OutboxMessage.key) == key)
    )
    return channel


async def get_request(
    session: AsyncSession, *, request_id: int, for_update: bool = False
) -> RefundRequest | None:
    """The request as stored now (never a stale copy from the session)."""
    stmt = select(RefundRequest).where(col(RefundRequest.id) == request_id)
    if for_update:
        stmt = stmt.with_for_update()
    result = await session.execute(stmt.execution_options(populate_existing=True))
    return result.scalar_one_or_none()


async def open_amount_on_charge(
    session: AsyncSession, *, charge_id: str, exclude_id: int | None = None
) -> tuple[int, list[int]]:
    """(sum, ids) of requests on a charge that may still refund money."""
    stmt = select(col(RefundRequest.id), col(RefundRequest.amount)).where(
        col(RefundRequest.charge_id) == charge_id,
        col(RefundRequest.status).in_(OPEN_STATUSES),
    )
    if exclude_id is not None:
        stmt = stmt.where(col(RefundRequest.id) != exclude_id)
    rows = (await session.execute(stmt)).all()
    return sum(r[1] for r in rows), [r[0] for r in rows if r[0] is not None]


async def lock_charge(session: AsyncSession, *, charge_id: str) -> None:
    """Serialize new requests on one charge until the transaction ends, so the
    second sees the first when it sums what is already waiting.

    PostgreSQL: a transaction-scoped advisory lock on the charge (a hash
    collision only makes two charges wait for each other). SQLite: every
    transaction here is BEGIN IMMEDIATE, one writer at a time already.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(
        select(func.pg_advisory_xact_lock(_CHARGE_LOCKS, func.hashtext(charge_id)))
    )


async def approve(
    session: AsyncSession, *, request_id: int, user_id: str, now: float, lease: float
) -> bool:
    """pending -> approved, only before expiry; True for the one click that wins.

    The winner also takes the first Stripe attempt (see `claim_attempt`) in the
    same statement: nobody else (the retry job, another instance) may call
    Stripe for it until the lease runs out.
    """
    return await change_request(
        session,
        request_id,
        [col(RefundRequest.status) == PENDING, col(RefundRequest.expires_at) > now],
        {
            "status": APPROVED,
            "decided_by": user_id,
            "decided_at": now,
            **attempt_values(now, lease),
        },
    )


async def deny(
    session: AsyncSession, *, request_id: int, user_id: str, reason: str, now: float
) -> bool:
    """pending -> denied; True when this call made the change."""
    return await change_request(
        session,
        request_id,
        [col(RefundRequest.status) == PENDING],
        {
            "status": DENIED,
            "decided_by": user_id,
            "decided_at": now,
            "deny_reason": reason,
        },
    )


async def expire(session: AsyncSession, *, request_id: int, now: float) -> bool:
    """pending -> expired once its time is up; True when this call made it."""
    return await change_request(
        session,
        request_id,
        [col(RefundRequest.status) == PENDING, col(RefundRequest.expires_at) <= now],
        {"status": EXPIRED, "decided_at": now},
    )


async def mark_reminded(session: AsyncSession, *, request_id: int, now: float) -> bool:
    """Note the one reminder; True for the caller that gets to send it."""
    return await change_request(
        session,
        request_id,
        [
            col(RefundRequest.status) == PENDING,
            col(RefundRequest.reminded_at).is_(None),
        ],
        {"reminded_at": now},
    )


# Every refund event looks for its request: built once (bound parameters),
# not per event. populate_existing: the row as locked, not a stale copy.
_FOR_REFUND = (
    select(RefundRequest)
    .where(col(RefundRequest.refund_id) == bindparam("refund_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
    .limit(1)
)
_FOR_REFUND_OR_KEY = (
    select(RefundRequest)
    .where(
        or_(
            col(RefundRequest.refund_id) == bindparam("refund_id"),
            col(RefundRequest.idempotency_key) == bindparam("key"),
        )
    )
    .with_for_update()
    .execution_options(populate_existing=True)
    .limit(1)
)


async def find_for_refund(
    session: AsyncSession, *, refund_id: str, request_key: str | None
) -> RefundRequest | None:
    """The request that made a refund: by refund ID, or by the key in metadata
    (the refund may be known to Stripe before our commit)."""
    if request_key:
        stmt, params = _FOR_REFUND_OR_KEY, {"refund_id": refund_id, "key": request_key}
    else:
        stmt, params = _FOR_REFUND, {"refund_id": refund_id}
    result = await session.execute(stmt, params)
    return result.scalar_one_or_none()


# Two index lookups, not one OR: the planners read the whole table for
# `refund_id IN (…) OR idempotency_key IN (…)`, and the table keeps every
# request ever made (tests/storage/test_query_plans.py).
_MADE_HERE = union_all(
    select(col(RefundRequest.refund_id), col(RefundRequest.idempotency_key)).where(
        col(RefundRequest.refund_id).in_(bindparam("refund_ids", expanding=True))
    ),
    select(col(RefundRequest.refund_id), col(RefundRequest.idempotency_key)).where(
        col(RefundRequest.idempotency_key).in_(bindparam("keys", expanding=True))
    ),
)


async def made_here(
    session: AsyncSession, *, refund_ids: Sequence[str], request_keys: Sequence[str]
) -> frozenset[str]:
    """Which of these refund IDs and request keys a refund request here
    holds: one read for a round of refund events, most of them for refunds
    made elsewhere (the Dashboard, the API), which need no lookup each."""
    if not refund_ids and not request_keys:
        return frozenset()
    rows = await session.execute(
        _MADE_HERE, {"refund_ids": list(refund_ids), "keys": list(request_keys)}
    )
    known: set[str] = set()
    for refund_id, key in rows.all():
        known.update(k for k in (refund_id, key) if k)
    return frozenset(known)


async def expired_ids(session: AsyncSession, *, now: float) -> Sequence[int]:
    rows = await session.execute(
        select(col(RefundRequest.id))
        .where(
            col(RefundRequest.status) == PENDING,
            col(RefundRequest.expires_at) <= now,
        )
        .order_by(col(RefundRequest.id))
    )
    return [r for r in rows.scalars().all() if r is not None]


async def reminder_ids(
    session: AsyncSession, *, now: float, wait_seconds: float
) -> Sequence[int]:
    """Pending requests that have waited `wait_seconds` and got no reminder."""
    rows = await session.execute(
        select(col(RefundRequest.id))
        .where(
            col(RefundRequest.status) == PENDING,
            col(RefundRequest.reminded_at).is_(None),
            col(RefundRequest.requested_at) <= now - wait_seconds,
            col(RefundRequest.expires_at) > now,
        )
        .order_by(col(RefundRequest.id))
    )
    return [r for r in rows.scalars().all() if r is not None]
