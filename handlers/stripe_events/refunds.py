"""Refunds: state kept current from Stripe events.

For a refund made through an approval request, each status change is replied
in the request's thread and shown on its message; the generic alert in the
refunds channel is sent as for any refund, by the alerts module after this.
"""

from __future__ import annotations

from bot.event_router import EventContext, EventRouter
from bot.refunds import apply_refund_event

# Each names a refund: one of ours is recorded on its request from any state.
REFUND_EVENT_TYPES = (
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
)


async def refund_changed(ctx: EventContext) -> None:
    """Take the refund's newer state onto its request, in the event's transaction."""
    if ctx.obj.get("object") != "refund" or not ctx.obj.get("id"):
        return
    await apply_refund_event(
        ctx.deps,
        ctx.session,
        ctx.obj,
        event_id=ctx.id,
        event_created=int(ctx.event.get("created") or 0),
        now=ctx.now,
    )


def register(router: EventRouter) -> None:
    """Add this module's event handlers."""
    for event_type in REFUND_EVENT_TYPES:
        router.add(event_type, refund_changed)
