"""The alert in the group's channel that each recommended event type gets,
as the first alert rule that matches the event says (ALERT_RULES)."""

from __future__ import annotations

from bot.alert_rules import Rule
from bot.blocks.alert_rules import with_mention
from bot.blocks.alerts import Alert, build_alert
from bot.connect import cached_name
from bot.event_router import EventContext
from bot.storm_csv import storm_row
from bot.stripe_shapes import event_account
from storage import alert_counts, outbox


def alert_key(event_id: str) -> str:
    """The outbox key of an event's alert; replies thread under it."""
    return f"alert:{event_id}"


async def take_rule(ctx: EventContext) -> Rule | None:
    """The first alert rule matching the event, noted on the stored event so
    `/stripe alerts` can count it; None when no rule matches."""
    rule = ctx.deps.settings.ALERT_RULES.take(ctx.event)
    if rule is not None:
        await alert_counts.record_rule(ctx.session, event_id=ctx.id, rule_key=rule.key)
    return rule


def alert_for(ctx: EventContext) -> Alert | None:
    """The event's alert, saying when the bot's key cannot act on it and
    naming its connected account (by the name read before the round)."""
    return build_alert(
        ctx.event,
        now=ctx.now,
        key_live=ctx.deps.settings.stripe_live,
        account_name=cached_name(ctx.deps, event_account(ctx.event)),
    )


async def send_alert(ctx: EventContext, *, in_digest: bool = True) -> None:
    """Queue the event's alert as its rule says; at most one per event,
    however often it runs.

    `in_digest=False` keeps it out of digests (an alert a feature module
    sends in place of its own card is always posted on its own).
    """
    await queue_alert(ctx, await take_rule(ctx), in_digest=in_digest)


async def queue_alert(
    ctx: EventContext, rule: Rule | None, *, in_digest: bool = True
) -> None:
    """Queue the event's alert: not at all under a mute rule, else in the
    rule's channel (or the group's) with the rule's mentions."""
    alert = alert_for(ctx)
    if alert is None or (rule is not None and rule.mute):
        return
    text, blocks = alert.text, alert.blocks
    channel = ctx.deps.settings.channel_for(alert.group)
    if rule is not None:
        channel = rule.channel or channel
        text, blocks = with_mention(text, blocks, rule.mention)
        # A digest line has no room for a ping: an alert that mentions
        # someone is posted on its own.
        in_digest = in_digest and not rule.mention
    queued = outbox.Queued(
        key=alert_key(ctx.id),
        channel=channel,
        text=text,
        blocks=blocks,
        digest_line=alert.summary if in_digest else None,
        facts=storm_row(ctx.event).as_facts() if in_digest else None,
    )
    if ctx.round is not None:
        ctx.round.alerts.append(queued)  # queued with the worker's round
    else:
        await outbox.enqueue_many(ctx.session, messages=[queued], now=ctx.now)
