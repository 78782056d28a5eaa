"""Jobs: finish approved requests whose Stripe call may have gone out, expire
the ones nobody decided in time, remind the approvers once.

Safe on several instances at once: every change is a conditional UPDATE that
only one run wins.
"""

from __future__ import annotations

import logging

from bot.blocks.refunds import reminder
from bot.deps import Deps
from bot.refunds.messages import (
    audit_request,
    queue_request_edit,
    queue_thread_reply,
    reload_request,
)
from bot.refunds.refunding import execute_refund
from storage import refunds as store
from storage.engine import is_sqlite

log = logging.getLogger(__name__)


async def finish_approved(deps: Deps, *, at_startup: bool = False) -> None:
    """Finish approved requests whose Stripe call may have gone out."""
    # A lone SQLite process starting up holds no lease of its own: any lease
    # on an approved row belonged to the process that died.
    ignore_lease = at_startup and is_sqlite(deps.engine)
    async with deps.sessions() as session:
        ids = await store.approved_ids(
            session, now=deps.clock.now(), ignore_lease=ignore_lease
        )
    for request_id in ids:
        try:
            status = await execute_refund(deps, request_id, ignore_lease=ignore_lease)
        except Exception:
            log.exception("finishing refund request %s failed", request_id)
            continue
        log.info("refund request %s finished as %s", request_id, status)


async def expire_pending(deps: Deps) -> None:
    """Mark requests nobody decided in time; tell the requester."""
    async with deps.sessions() as session:
        ids = await store.expired_ids(session, now=deps.clock.now())
    for request_id in ids:
        async with deps.sessions() as session, session.begin():
            now = deps.clock.now()
            if not await store.expire(session, request_id=request_id, now=now):
                continue
            req = await reload_request(session, request_id)
            await audit_request(
                session,
                req,
                actor="system",
                action="refund.expired",
                now=now,
                details={"ttl_hours": deps.settings.REFUND_APPROVAL_TTL_HOURS},
            )
            await queue_request_edit(
                session, req, version=store.EXPIRED, now=now, dm_requester=True
            )
        deps.metrics.refunds.labels("expired").inc()
        deps.wake.outbox.set()


async def remind_pending(deps: Deps) -> None:
    """Once per request, after a quarter of its time, nudge in its thread."""
    wait = deps.settings.REFUND_APPROVAL_TTL_HOURS * 3600.0 / 4
    async with deps.sessions() as session:
        ids = await store.reminder_ids(session, now=deps.clock.now(), wait_seconds=wait)
    for request_id in ids:
        async with deps.sessions() as session, session.begin():
            now = deps.clock.now()
            if not await store.mark_reminded(session, request_id=request_id, now=now):
                continue
            req = await reload_request(session, request_id)
            await queue_thread_reply(
                deps,
                session,
                req,
                key="reminder",
                text=reminder(req, now=now),
                now=now,
            )
        deps.wake.outbox.set()
