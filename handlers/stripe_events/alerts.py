"""The alert in the group's channel that each recommended event type gets."""

from __future__ import annotations

from bot.blocks.alerts import Alert, build_alert
from bot.connect import cached_name
from bot.event_router import EventContext
from bot.stripe_shapes import event_account
from storage import outbox


def alert_key(event_id: str) -> str:
    """The outbox key of an event's alert; replies thread under it."""
    return f"alert:{event_id}"


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
    """Queue the event's alert; at most one per event, however often it runs.

    `in_digest=False` keeps it out of digests (an alert a feature module
    sends in place of its own card is always posted on its own).
    """
    alert = alert_for(ctx)
    if alert is None:
        return
    await outbox.enqueue(
        ctx.session,
        key=alert_key(ctx.id),
        channel=ctx.deps.settings.channel_for(alert.group),
        text=alert.text,
        blocks=alert.blocks,
        digest_line=alert.summary if in_digest else None,
        now=ctx.now,
    )
