"""Disputes: state kept current from Stripe events, and the dispute alert."""

from __future__ import annotations

from bot import disputes
from bot.blocks.alerts import Alert, build_alert
from bot.event_router import EventContext, EventRouter
from handlers.stripe_events import alerts

# After the card, a dispute's events reply in its thread (the card itself is
# edited to show the new state), so one dispute's history stays in one place and
# our own evidence saves (`updated`) don't fill the channel. The ones that move
# money or end the dispute are also shown in the channel.
SHOWN_IN_CHANNEL = frozenset(
    {
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)


async def apply_dispute_event(ctx: EventContext) -> None:
    """Take the event's dispute unless a newer one is stored; keep the card
    current; a later event's alert replies in the card's thread."""
    if not _has_id(ctx):
        return  # `_from_event_alone` alerts it; there is no row to keep
    key = alerts.alert_key(ctx.id)
    applied = await disputes.on_event(
        ctx.session, ctx.deps.settings, ctx.event, alert_key=key, now=ctx.now
    )
    if applied.row.alert_key == key:
        return  # this event's alert is the card itself
    # A `created` too, when reconcile or an earlier event posted the card.
    alert = build_alert(ctx.event, now=ctx.now)
    if alert is None:
        return
    # Under the same key as a top-level alert would be: at most one per event.
    await disputes.note(
        ctx.session,
        ctx.deps.settings,
        applied.row,
        key=key,
        text=alert.text,
        layout=alert.blocks,
        now=ctx.now,
        broadcast=ctx.type in SHOWN_IN_CHANNEL,
    )


def _has_id(ctx: EventContext) -> bool:
    # Disputes from before dispute IDs (2014 and earlier) carry none: they
    # cannot be stored, answered or reminded of, but are still alerted.
    return bool(disputes.dispute_id(ctx.obj))


def _from_event_alone(ctx: EventContext) -> Alert | None:
    return build_alert(ctx.event, now=ctx.now)


def _in_thread(ctx: EventContext) -> Alert | None:
    """No top-level alert: `apply_dispute_event` posts the card or replies in
    its thread (a dispute with no ID has no card, so it gets the plain alert)."""
    return None if _has_id(ctx) else _from_event_alone(ctx)


def register(router: EventRouter) -> None:
    """Add this module's event handlers."""
    for event_type in disputes.EVENT_TYPES:
        router.add(event_type, apply_dispute_event)
    # `apply_dispute_event` posts the card (once per dispute, whichever of an
    # event or reconcile finds it first) and the thread replies; a generic
    # alert for `created` would be a second card when reconcile came first.
    for event_type in disputes.EVENT_TYPES:
        alerts.use_builder(event_type, _in_thread)
