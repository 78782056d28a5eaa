"""An alert in the group's channel for each recommended event type."""

from __future__ import annotations

from collections.abc import Callable

from bot.blocks.alerts import ALERTED_EVENT_TYPES, Alert, build_alert
from bot.event_router import EventContext, EventRouter
from storage import outbox

AlertBuilder = Callable[[EventContext], Alert | None]

# Event types whose alert a feature module builds itself (e.g. disputes add
# buttons); they register here instead of taking the generic builder.
_custom_builders: dict[str, AlertBuilder] = {}


def use_builder(event_type: str, builder: AlertBuilder) -> None:
    _custom_builders[event_type] = builder


def alert_key(event_id: str) -> str:
    """The outbox key of an event's alert; replies thread under it."""
    return f"alert:{event_id}"


async def send_alert(ctx: EventContext) -> None:
    """Queue the event's alert; at most one per event, however often it runs."""
    builder = _custom_builders.get(ctx.type)
    alert = builder(ctx) if builder is not None else build_alert(ctx.event, now=ctx.now)
    if alert is None:
        return
    await outbox.enqueue(
        ctx.session,
        key=alert_key(ctx.id),
        channel=ctx.deps.settings.channel_for(alert.group),
        text=alert.text,
        blocks=alert.blocks,
        digest_line=alert.summary if builder is None else None,
        now=ctx.now,
    )


def register(router: EventRouter) -> None:
    for event_type in sorted(ALERTED_EVENT_TYPES):
        router.add(event_type, send_alert)
