"""Refund requests: creation and every state change as one conditional UPDATE.

pending -> approved -> succeeded | failed; pending -> denied | expired.
A change that can race (two clicks, two instances, a job and a click) is a
single `UPDATE … WHERE status = …`: the caller that changes one row wins.
A refund Stripe holds for a request is recorded from any state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import rowcount
from storage.models import OutboxMessage, RefundRequest

PENDING = "pending"
APPROVED = "approved"
SUCCEEDED = "succeeded"
FAILED = "failed"
DENIED = "denied"
EXPIRED = "expired"

# Requests whose money may still leave: they count against what is left.
OPEN_STATUSES = (PENDING, APPROVED)

# The first key of PostgreSQL advisory locks on a charge (`lock_charge`): keeps
# them apart from any other use of advisory locks. "rfnd" in ASCII.
_CHARGE_LOCKS = 0x72666E64


def message_key(request_id: int) -> str:
    """The outbox key of a request's approval message; edits and replies use it."""
    return f"refund_request:{request_id}"


async def create_request(
    session: AsyncSession,
    *,
    payment_id: str,
    charge_id: str,
    payment_intent_id: str | None,
    customer_id: str | None,
    customer_label: str | None,
    amount: int,
    currency: str,
    payment_amount: int,
    reason: str | None,
    note: str | None,
    livemode: bool,
    requested_by: str,
    requested_in: str | None,
    idempotency_key: str,
    now: float,
    ttl_seconds: float,
) -> RefundRequest:
    """Add a pending request; its id and message key are set on return."""
    row = RefundRequest(
        status=PENDING,
        payment_id=payment_id,
        charge_id=charge_id,
        payment_intent_id=payment_intent_id,
        customer_id=customer_id,
        customer_label=customer_label,
        amount=amount,
        currency=currency.lower(),
        payment_amount=payment_amount,
        reason=reason,
        note=note,
        livemode=livemode,
        requested_by=requested_by,
        requested_in=requested_in,
        requested_at=now,
        expires_at=now + ttl_seconds,
        idempotency_key=idempotency_key,
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


async def _change(
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
    return await _change(
        session,
        request_id,
        [col(RefundRequest.status) == PENDING, col(RefundRequest.expires_at) > now],
        {
            "status": APPROVED,
            "decided_by": user_id,
            "decided_at": now,
            **_attempt_values(now, lease),
        },
    )


async def deny(
    session: AsyncSession, *, request_id: int, user_id: str, reason: str, now: float
) -> bool:
    """pending -> denied; True when this call made the change."""
    return await _change(
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
    return await _change(
        session,
        request_id,
        [col(RefundRequest.status) == PENDING, col(RefundRequest.expires_at) <= now],
        {"status": EXPIRED, "decided_at": now},
    )


async def mark_reminded(session: AsyncSession, *, request_id: int, now: float) -> bool:
    """Note the one reminder; True for the caller that gets to send it."""
    return await _change(
        session,
        request_id,
        [
            col(RefundRequest.status) == PENDING,
            col(RefundRequest.reminded_at).is_(None),
        ],
        {"reminded_at": now},
    )


async def claim_attempt(
    session: AsyncSession,
    *,
    request_id: int,
    now: float,
    lease: float,
    ignore_lease: bool = False,
) -> bool:
    """Take the next Stripe attempt of an approved request for `lease` seconds.

    Counted before the call goes out, so a crash leaves a trace that Stripe
    may have been asked already.
    """
    where: list[Any] = [col(RefundRequest.status) == APPROVED]
    if not ignore_lease:
        where.append(
            or_(
                col(RefundRequest.next_attempt_at).is_(None),
                col(RefundRequest.next_attempt_at) <= now,
            )
        )
    return await _change(session, request_id, where, _attempt_values(now, lease))


def _attempt_values(now: float, lease: float) -> dict[str, Any]:
    return {
        "stripe_attempts": col(RefundRequest.stripe_attempts) + 1,
        "first_attempt_at": func.coalesce(col(RefundRequest.first_attempt_at), now),
        "next_attempt_at": now + lease,
    }


def _still_claimed(attempt: int) -> list[Any]:
    """Only the newest claimed attempt may settle an approved request on its
    own reasoning: a later claim (our lease ran out) decides instead."""
    return [
        col(RefundRequest.status) == APPROVED,
        col(RefundRequest.stripe_attempts) == attempt,
    ]


async def retry_later(
    session: AsyncSession, *, request_id: int, attempt: int, error: str, retry_at: float
) -> bool:
    """The Stripe call's fate is unknown (network, 5xx): stay approved, retry."""
    return await _change(
        session,
        request_id,
        _still_claimed(attempt),
        {"last_error": error[:2000], "next_attempt_at": retry_at},
    )


async def fail_unrefunded(
    session: AsyncSession, *, request_id: int, attempt: int, message: str
) -> bool:
    """approved -> failed when attempt `attempt` knows nothing was refunded
    (Stripe refused, or the re-check before any POST said no); True if made."""
    return await _change(
        session,
        request_id,
        [*_still_claimed(attempt), col(RefundRequest.refund_id).is_(None)],
        {
            "status": FAILED,
            "failure_message": message,
            "next_attempt_at": None,
            "last_error": None,
        },
    )


async def record_refund(
    session: AsyncSession,
    *,
    request_id: int,
    status: str,
    refund_id: str,
    refund_status: str,
    refund_status_at: int,
    refund_reference: str | None,
    refund_reference_status: str | None,
    failure_message: str | None,
) -> bool:
    """Stripe holds this refund for the request: record it, whatever the
    request's state (one we recorded as failed included), unless a refund is
    recorded already. True for the one caller that records it."""
    assert status in (SUCCEEDED, FAILED)
    return await _change(
        session,
        request_id,
        [col(RefundRequest.refund_id).is_(None)],
        {
            "status": status,
            "refund_id": refund_id,
            "refund_status": refund_status,
            "refund_status_at": refund_status_at,
            "refund_reference": refund_reference,
            "refund_reference_status": refund_reference_status,
            "failure_message": failure_message,
            "next_attempt_at": None,
            "last_error": None,
        },
    )


async def set_refund_state(
    session: AsyncSession,
    *,
    request_id: int,
    refund_status: str,
    refund_status_at: int,
    refund_reference: str | None,
    refund_reference_status: str | None,
    failed: bool,
    failure_message: str | None,
) -> None:
    """Take a newer refund state from Stripe (the caller holds the row lock)."""
    values: dict[str, Any] = {
        "refund_status": refund_status,
        "refund_status_at": refund_status_at,
        "refund_reference": refund_reference,
        "refund_reference_status": refund_reference_status,
    }
    if failed:
        values["status"] = FAILED
        values["failure_message"] = failure_message
    await _change(session, request_id, [], values)


async def find_for_refund(
    session: AsyncSession, *, refund_id: str, request_key: str | None
) -> RefundRequest | None:
    """The request that made a refund: by refund ID, or by the key in metadata
    (the refund may be known to Stripe before our commit)."""
    clauses = [col(RefundRequest.refund_id) == refund_id]
    if request_key:
        clauses.append(col(RefundRequest.idempotency_key) == request_key)
    result = await session.execute(
        select(RefundRequest)
        .where(or_(*clauses))
        .with_for_update()
        .execution_options(populate_existing=True)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def approved_ids(
    session: AsyncSession, *, now: float, ignore_lease: bool = False
) -> Sequence[int]:
    """Approved requests whose Stripe call is due (or all, at a lone start-up)."""
    stmt = select(col(RefundRequest.id)).where(col(RefundRequest.status) == APPROVED)
    if not ignore_lease:
        stmt = stmt.where(
            or_(
                col(RefundRequest.next_attempt_at).is_(None),
                col(RefundRequest.next_attempt_at) <= now,
            )
        )
    rows = await session.execute(stmt.order_by(col(RefundRequest.id)))
    return [r for r in rows.scalars().all() if r is not None]


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
