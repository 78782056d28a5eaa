"""Refund events: the refund's state onto its request, then the alert.

For a refund made through an approval request, each status change is replied
in the request's thread and shown on its message; the alert in the refunds
channel is sent as for any refund.
"""

from __future__ import annotations

from bot.event_router import EventContext
from bot.refunds import apply_refund_event
from handlers.stripe_events.alerts import send_alert
from handlers.stripe_events.fraud_warnings import refund_seen


async def refund_changed(ctx: EventContext) -> None:
    """Take the refund's newer state onto its request (in the event's
    transaction), then queue the event's alert."""
    if ctx.obj.get("object") == "refund" and ctx.obj.get("id"):
        await apply_refund_event(
            ctx.deps,
            ctx.session,
            ctx.obj,
            event_id=ctx.id,
            event_created=int(ctx.event.get("created") or 0),
            now=ctx.now,
        )
    await refund_seen(ctx)
    # State first, so an alert built after it could read the new state.
    await send_alert(ctx)
