"""What every step of a refund request writes besides its row: the edit of its
approval message, the requester's DM, replies in its thread, audit entries.

Slack is only ever reached through the outbox: these queue rows in the
caller's transaction, so they commit (or not) with the change they describe.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.refunds import outcome_dm, request_message
from bot.deps import Deps
from bot.stripe_lookup import RefundInfo
from storage import audit, outbox
from storage import refunds as store
from storage.models import RefundRequest


def audit_subject(request_id: int | None) -> str:
    """How the audit log names a request."""
    return f"refund_request:{request_id}"


async def reload_request(session: AsyncSession, request_id: int) -> RefundRequest:
    """The request as stored now (it exists: the caller just changed it)."""
    req = await store.get_request(session, request_id=request_id)
    assert req is not None
    return req


async def audit_request(
    session: AsyncSession,
    req: RefundRequest,
    *,
    actor: str,
    action: str,
    now: float,
    details: dict[str, Any],
) -> None:
    """An audit-log entry about the request, with its amount."""
    await audit.record(
        session,
        actor=actor,
        action=action,
        subject=audit_subject(req.id),
        now=now,
        amount=req.amount,
        currency=req.currency,
        details=details,
    )


async def audit_refund(
    session: AsyncSession,
    req: RefundRequest,
    refund: RefundInfo,
    *,
    action: str,
    now: float,
    details: dict[str, Any],
) -> None:
    """Stripe's entry about the request's refund, with the refund's own amount
    (what Stripe holds, not what was asked for)."""
    await audit.record(
        session,
        actor="stripe",
        action=action,
        subject=audit_subject(req.id),
        now=now,
        amount=refund.amount,
        currency=refund.currency,
        details={"refund": refund.id, "refund_status": refund.status, **details},
    )


async def queue_request_edit(
    session: AsyncSession,
    req: RefundRequest,
    *,
    version: str,
    now: float,
    dm_requester: bool = False,
) -> None:
    """Queue the edit of the approval message to the request's state (and,
    with `dm_requester`, the requester's DM about it); `version` keeps each
    edit's outbox key apart."""
    assert req.message_key is not None
    text, blocks = request_message(req)
    await outbox.enqueue_update(
        session,
        key=f"{req.message_key}:{version}",
        target_key=req.message_key,
        text=text,
        blocks=blocks,
        now=now,
    )
    if dm_requester:
        await outbox.enqueue(
            session,
            key=f"{req.message_key}:dm:{version}",
            channel=req.requested_by,
            text=outcome_dm(req),
            now=now,
        )


async def queue_thread_reply(
    deps: Deps,
    session: AsyncSession,
    req: RefundRequest,
    *,
    key: str,
    text: str,
    now: float,
) -> None:
    """Queue a reply in the approval message's thread (once per `key`)."""
    assert req.message_key is not None
    channel = await store.message_channel(session, key=req.message_key)
    await outbox.enqueue(
        session,
        key=f"{req.message_key}:{key}",
        channel=channel or deps.settings.approvals_channel,
        text=text,
        thread_key=req.message_key,
        now=now,
    )
