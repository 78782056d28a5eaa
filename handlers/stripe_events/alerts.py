"""The alert in the group's channel that each recommended event type gets."""

from __future__ import annotations

from bot.blocks.alerts import build_alert
from bot.event_router import EventContext
from storage import outbox


def alert_key(event_id: str) -> str:
    """The outbox key of an event's alert; replies thread under it."""
    return f"alert:{event_id}"


async def send_alert(ctx: EventContext, *, in_digest: bool = True) -> None:
    """Queue the event's alert; at most one per event, however often it runs.

    `in_digest=False` keeps it out of digests (an alert a feature module
    sends in place of its own card is always posted on its own).
    """
    alert = build_alert(ctx.event, now=ctx.now)
    if alert is None:
        return
    queued = outbox.Queued(
        key=alert_key(ctx.id),
        channel=ctx.deps.settings.channel_for(alert.group),
        text=alert.text,
        blocks=alert.blocks,
        digest_line=alert.summary if in_digest else None,
    )
    if ctx.alerts is not None:
        ctx.alerts.append(queued)  # queued with the worker's round
    else:
        await outbox.enqueue_many(ctx.session, messages=[queued], now=ctx.now)
