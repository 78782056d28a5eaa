"""Events: Stripe's `refund.*` events for refunds made here, taken into the
request (newest object wins), with a reply in the request's thread."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.refunds import failure_text, refund_event_reply
from bot.deps import Deps
from bot.refunds.messages import (
    audit_refund,
    queue_request_edit,
    queue_thread_reply,
    reload_request,
)
from bot.refunds.outcomes import record_refund
from bot.refunds.refunding import REQUEST_KEY_METADATA
from bot.stripe_lookup import refund_from
from storage import refunds as store
from storage.models import RefundRequest

log = logging.getLogger(__name__)

_RANK = {"pending": 0, "requires_action": 1}


def _newer(req: RefundRequest, status: str, created: int) -> bool:
    """Newest object wins: by the event's time, then by how final the status is."""
    if req.refund_status_at is None or created > req.refund_status_at:
        return True
    if created < req.refund_status_at:
        return False
    return _RANK.get(status, 2) >= _RANK.get(req.refund_status or "", 2)


async def made_here_in(
    session: AsyncSession, objects: Sequence[dict[str, Any]]
) -> frozenset[str]:
    """Of these refund objects' IDs and request keys, those a refund request
    here holds. A refund we make carries its request's key in metadata, and
    the request (with the key) is committed before Stripe is asked: a refund
    in neither set cannot become ours later in the round."""
    refunds = [refund_from(obj) for obj in objects]
    return await store.made_here(
        session,
        refund_ids=[r.id for r in refunds if r.id],
        request_keys=[
            key for r in refunds if (key := r.metadata.get(REQUEST_KEY_METADATA))
        ],
    )


async def apply_refund_event(
    deps: Deps,
    session: AsyncSession,
    obj: dict[str, Any],
    *,
    event_id: str,
    event_created: int,
    now: float,
    made_here: frozenset[str] | None = None,
) -> bool:
    """Take a refund event for a refund made here; False if it is not ours.

    Runs in the event's transaction: the state change, the thread reply and the
    message edit commit together with the event's processed mark.
    `made_here`: the refund IDs and request keys of the event's round that a
    request holds (`made_here_in`); a refund in neither is not looked up.
    """
    refund = refund_from(obj)
    key = refund.metadata.get(REQUEST_KEY_METADATA)
    if made_here is not None and refund.id not in made_here and key not in made_here:
        return False
    req = await store.find_for_refund(
        session,
        refund_id=refund.id,
        request_key=key,
    )
    if req is None or req.id is None:
        return False
    if req.refund_id is None:
        # Stripe made the refund before our commit (crash, still in flight,
        # or a request recorded as failed on our own reasoning): what Stripe
        # holds is what we record; the conditional update lets one caller win.
        await record_refund(deps, session, req, refund, now=now)
        return True
    if req.refund_id != refund.id:
        log.error(
            "refund %s names refund request %s, which has refund %s",
            refund.id,
            req.id,
            req.refund_id,
        )
        return False
    if not _newer(req, refund.status, event_created):
        log.info("ignored %s: older than the refund state we have", event_id)
        return True
    changed = refund.status != req.refund_status or (
        refund.reference is not None and refund.reference != req.refund_reference
    )
    failed_now = refund.status in store.REFUND_ENDED and req.status == store.SUCCEEDED
    await store.set_refund_state(
        session,
        request_id=req.id,
        refund_status=refund.status,
        refund_status_at=event_created,
        refund_reference=refund.reference,
        refund_reference_status=refund.reference_status,
        failed=failed_now,
        failure_message=failure_text(refund.failure_reason) if failed_now else None,
    )
    if not changed:
        return True
    await audit_refund(
        session,
        req,
        refund,
        action="refund.failed" if failed_now else "refund.updated",
        now=now,
        details={"failure_reason": refund.failure_reason, "event": event_id},
    )
    req = await reload_request(session, req.id)
    await queue_thread_reply(
        deps,
        session,
        req,
        key=f"reply:{event_id}",
        text=refund_event_reply(
            req,
            refund_id=refund.id,
            status=refund.status,
            failure_reason=refund.failure_reason,
        ),
        now=now,
    )
    await queue_request_edit(
        session, req, version=f"event:{event_id}", now=now, dm_requester=failed_now
    )
    if failed_now:
        deps.metrics.refunds.labels("failed").inc()
    return True
