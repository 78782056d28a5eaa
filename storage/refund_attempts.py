"""A refund request's Stripe attempts: who may call Stripe, and what came of it.

Each attempt is claimed (counted) before the call goes out; only the newest
claim settles the request on its own reasoning, and a refund Stripe holds for
the request is recorded from any state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import RefundRequest
from storage.refund_states import (
    APPROVED,
    FAILED,
    SUCCEEDED,
    attempt_values,
    change_request,
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
    return await change_request(session, request_id, where, attempt_values(now, lease))


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
    return await change_request(
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
    return await change_request(
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
    return await change_request(
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
    await change_request(session, request_id, [], values)


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
