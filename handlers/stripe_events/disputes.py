"""Disputes: state kept current from Stripe events, and the dispute alert."""

from __future__ import annotations

from bot import disputes
from bot.blocks.alerts import Alert
from bot.event_router import EventContext, EventRouter
from handlers.stripe_events import alerts


async def apply_dispute_event(ctx: EventContext) -> None:
    """Take the event's dispute unless a newer one is stored; keep the card current."""
    await disputes.on_event(
        ctx.session,
        ctx.deps.settings,
        ctx.event,
        alert_key=alerts.alert_key(ctx.id),
        now=ctx.now,
    )


def dispute_alert(ctx: EventContext) -> Alert:
    """The card for `charge.dispute.created`, from the event alone."""
    # `apply_dispute_event` runs first and queues the card built from the
    # stored row under the same key; this one is the fallback.
    row = disputes.transient_row(ctx.obj, now=ctx.now)
    return disputes.build_alert(row, now=ctx.now, event_id=ctx.id)


def register(router: EventRouter) -> None:
    """Add this module's event handlers."""
    for event_type in disputes.EVENT_TYPES:
        router.add(event_type, apply_dispute_event)
    alerts.use_builder(disputes.CREATED_EVENT, dispute_alert)
