"""Dispute events: state kept current, the card, and replies in its thread."""

from __future__ import annotations

from bot import disputes
from bot.blocks.alert_rules import with_mention
from bot.connect import cached_name
from bot.event_router import EventContext
from bot.stripe_shapes import event_account
from handlers.stripe_events.alerts import alert_for, alert_key, queue_alert, take_rule
from handlers.stripe_events.fraud_warnings import charge_disputed

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


async def dispute_changed(ctx: EventContext) -> None:
    """Take the event's dispute unless a newer one is stored; keep the card
    current; a later event's alert replies in the card's thread.

    No generic alert besides: the card is posted once per dispute, whichever
    of an event or reconcile finds it first, and a second top-level alert for
    `created` would be a second card when reconcile came first.

    An alert rule's channel and mention apply to the card; its mute does not
    (the card is where the dispute is answered), only to the replies.
    """
    if ctx.type == "charge.dispute.created":
        # Stripe refunds no disputed charge: early fraud warnings stop offering.
        await charge_disputed(ctx)
    rule = await take_rule(ctx)
    if not disputes.dispute_id(ctx.obj):
        # Disputes from before dispute IDs (2014 and earlier) carry none: they
        # cannot be stored, answered or reminded of, but are still alerted.
        await queue_alert(ctx, rule, in_digest=False)
        return
    key = alert_key(ctx.id)
    applied = await disputes.on_event(
        ctx.session,
        ctx.deps.settings,
        ctx.event,
        alert_key=key,
        now=ctx.now,
        channel=rule.channel if rule else None,
        mention=rule.mention if rule else (),
        account_name=cached_name(ctx.deps, event_account(ctx.event)),
    )
    if applied.row.alert_key == key:
        return  # this event's alert is the card itself
    if rule is not None and rule.mute:
        return
    # A `created` too, when reconcile or an earlier event posted the card.
    alert = alert_for(ctx)
    if alert is None:
        return
    text, layout = with_mention(alert.text, alert.blocks, rule.mention if rule else ())
    # Under the same key as a top-level alert would be: at most one per event.
    await disputes.queue_thread_reply(
        ctx.session,
        ctx.deps.settings,
        applied.row,
        key=key,
        text=text,
        layout=layout,
        now=ctx.now,
        broadcast=ctx.type in SHOWN_IN_CHANNEL,
    )
