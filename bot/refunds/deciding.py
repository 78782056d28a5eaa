"""Deciding: a manager's Approve or Deny, checked on the server at every click.

Whether the clicker is a manager is found out before the transaction (it may
ask Slack, and no network call may hold a transaction open); the decision is
the request's conditional UPDATE, so one of two racing clicks wins. A refusal
is audited, committed, then raised for the clicker alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import is_manager
from bot.blocks.refund_words import NOTE_MAX
from bot.deps import Deps
from bot.refund_refusals import AlreadyDecided, OwnRequest, UnknownRequest
from bot.refunds.messages import audit_request, queue_request_edit, reload_request
from bot.refunds.refunding import ATTEMPT_LEASE_SECONDS, attempt_refund
from bot.refusals import NotAManager, Refused
from storage import refunds as store
from storage.models import RefundRequest

Decision = Literal["approve", "deny"]


async def _load(session: AsyncSession, request_id: int) -> RefundRequest:
    """The request to decide on, or UnknownRequest."""
    req = await store.get_request(session, request_id=request_id)
    if req is None:
        raise UnknownRequest(request_id)
    return req


async def _refusal(
    session: AsyncSession,
    req: RefundRequest,
    *,
    user_id: str,
    what: Decision,
    manager: bool,
    now: float,
) -> Refused | None:
    """Why this user may not decide (audited here), or None when they may."""
    refused: Refused
    if not manager:
        why, refused = "not_manager", NotAManager(f"{what} refunds")
    elif what == "approve" and user_id == req.requested_by:
        why, refused = "requester", OwnRequest(req)
    else:
        return None
    await audit_request(
        session,
        req,
        actor=user_id,
        action=f"refund.{what}_refused",
        now=now,
        details={"why": why, "status": req.status},
    )
    return refused


async def _decide(
    deps: Deps,
    *,
    request_id: int,
    user_id: str,
    what: Decision,
    transition: Callable[[AsyncSession, float], Awaitable[bool]],
    details: Callable[[RefundRequest], dict[str, Any]],
    dm_requester: bool = False,
) -> RefundRequest:
    """A manager's decision, in one transaction: refuse it (audited), or make
    it by the request's conditional update, audit it and queue the edit of
    the request's message. The decided request; raises Refused."""
    manager = await is_manager(deps, user_id)
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        req = await _load(session, request_id)
        refused = await _refusal(
            session, req, user_id=user_id, what=what, manager=manager, now=now
        )
        if refused is None and not await transition(session, now):
            refused = AlreadyDecided(await reload_request(session, request_id), now)
        if refused is None:
            req = await reload_request(session, request_id)
            await audit_request(
                session,
                req,
                actor=user_id,
                action=f"refund.{req.status}",
                now=now,
                details=details(req),
            )
            await queue_request_edit(
                session, req, version=req.status, now=now, dm_requester=dm_requester
            )
    if refused is not None:
        # Raised after the commit: a refusal stays in the audit log, and the
        # request it carries stays readable (a rollback would expire it).
        raise refused
    deps.metrics.refunds.labels(req.status).inc()
    deps.wake.outbox.set()
    return req


async def approve(deps: Deps, *, request_id: int, user_id: str) -> None:
    """A manager's Approve click: win the request and its first Stripe
    attempt in one update, then re-check and refund. Raises Refused for the
    clicker alone; otherwise the request's message (edited through the
    outbox) says it all."""
    decided = await _decide(
        deps,
        request_id=request_id,
        user_id=user_id,
        what="approve",
        transition=lambda session, now: store.approve(
            session,
            request_id=request_id,
            user_id=user_id,
            now=now,
            lease=ATTEMPT_LEASE_SECONDS,
        ),
        details=lambda req: {
            "payment": req.payment_id,
            "requested_by": req.requested_by,
        },
    )
    await attempt_refund(deps, decided)


async def deny(deps: Deps, *, request_id: int, user_id: str, reason: str) -> None:
    """A manager's denial with a reason; raises Refused for them alone."""
    reason = reason.strip()[:NOTE_MAX]
    await _decide(
        deps,
        request_id=request_id,
        user_id=user_id,
        what="deny",
        transition=lambda session, now: store.deny(
            session, request_id=request_id, user_id=user_id, reason=reason, now=now
        ),
        details=lambda req: {"reason": reason, "requested_by": req.requested_by},
        dm_requester=True,
    )


async def deny_check(deps: Deps, *, request_id: int, user_id: str) -> RefundRequest:
    """Before the Deny modal opens: the request to deny, or Refused (audited)."""
    manager = await is_manager(deps, user_id)
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        req = await _load(session, request_id)
        refused = await _refusal(
            session, req, user_id=user_id, what="deny", manager=manager, now=now
        )
    if refused is not None:
        raise refused
    if req.status != store.PENDING:
        raise AlreadyDecided(req, deps.clock.now())
    return req
