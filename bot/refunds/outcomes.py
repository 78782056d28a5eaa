"""What came of a Stripe attempt, recorded: the refund Stripe holds, no refund
(Stripe said no, or the re-check did), or no answer (retry with the same key).

Each is one conditional UPDATE that only one caller wins, with its audit entry
and the approval message's edit in the same transaction.
"""

from __future__ import annotations

import logging

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backoff import backoff
from bot.blocks.refund_refusals import unrefunded_text
from bot.blocks.refunds import failure_text
from bot.deps import Deps
from bot.refunds.messages import (
    audit_refund,
    audit_request,
    queue_request_edit,
    reload_request,
)
from bot.refusals import RefundRefused
from bot.stripe_api import describe_error
from bot.stripe_lookup import RefundInfo
from storage import refunds as store
from storage.models import RefundRequest

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 1800.0


async def record_refund(
    deps: Deps,
    session: AsyncSession,
    req: RefundRequest,
    refund: RefundInfo,
    *,
    now: float,
) -> str | None:
    """The refund Stripe holds for the request, recorded: succeeded (or failed,
    if the refund failed at once), from any state the request was left in,
    with the message edit and the requester's DM; None if another caller
    recorded it."""
    assert req.id is not None
    failed = refund.status in store.REFUND_ENDED
    status = store.FAILED if failed else store.SUCCEEDED
    if not await store.record_refund(
        session,
        request_id=req.id,
        status=status,
        refund_id=refund.id,
        refund_status=refund.status,
        refund_status_at=refund.created,
        refund_reference=refund.reference,
        refund_reference_status=refund.reference_status,
        failure_message=failure_text(refund.failure_reason) if failed else None,
    ):
        return None
    await audit_refund(
        session,
        req,
        refund,
        action=f"refund.{status}",
        now=now,
        details={
            "charge": req.charge_id,
            "approved_by": req.decided_by,
            "idempotency_key": req.idempotency_key,
            "was": req.status,
        },
    )
    await queue_request_edit(
        session,
        await reload_request(session, req.id),
        version=status,
        now=now,
        dm_requester=True,
    )
    deps.metrics.refunds.labels(status).inc()
    return status


async def fail_unrefunded(
    deps: Deps, req: RefundRequest, why: RefundRefused, *, code: str
) -> None:
    """approved -> failed with the reason on the request: nothing was refunded.
    Only while this attempt is still the newest claim (see fail_unrefunded)."""
    assert req.id is not None
    message = unrefunded_text(why)
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        if not await store.fail_unrefunded(
            session,
            request_id=req.id,
            attempt=req.stripe_attempts,
            message=message,
        ):
            return
        req = await reload_request(session, req.id)
        await audit_request(
            session,
            req,
            actor="stripe",
            action="refund.failed",
            now=now,
            details={"code": code, "message": message, "charge": req.charge_id},
        )
        await queue_request_edit(
            session, req, version=store.FAILED, now=now, dm_requester=True
        )
    deps.metrics.refunds.labels("failed").inc()
    deps.wake.outbox.set()


async def retry_later(deps: Deps, req: RefundRequest, exc: stripe.StripeError) -> str:
    """Stripe may or may not have refunded: keep the request approved and
    let the retry job ask again with the same key."""
    assert req.id is not None
    message = describe_error(exc)
    log.warning(
        "refund request %s: Stripe did not answer (%s); retrying later",
        req.id,
        type(exc).__name__,
    )
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        delay = backoff(
            req.stripe_attempts, base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS
        )
        if await store.retry_later(
            session,
            request_id=req.id,
            attempt=req.stripe_attempts,
            error=message,
            retry_at=now + delay,
        ):
            await audit_request(
                session,
                req,
                actor="stripe",
                action="refund.unanswered",
                now=now,
                details={
                    "error": type(exc).__name__,
                    "message": message,
                    "attempt": req.stripe_attempts,
                    "retry_in_seconds": round(delay),
                },
            )
            await queue_request_edit(
                session,
                await reload_request(session, req.id),
                version=f"retrying:{req.stripe_attempts}",
                now=now,
            )
    deps.wake.outbox.set()
    return store.APPROVED
