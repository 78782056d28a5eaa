"""Refund events: the refund's state onto its request, then the alert.

For a refund made through an approval request, each status change is replied
in the request's thread and shown on its message; the alert in the refunds
channel is sent as for any refund.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.event_router import EventContext
from bot.refunds import apply_refund_event
from bot.refunds.events import made_here_in
from bot.stripe_shapes import event_object
from handlers.stripe_events.alerts import send_alert
from handlers.stripe_events.fraud_warnings import refund_seen


def _is_refund(obj: dict[str, Any]) -> bool:
    return obj.get("object") == "refund" and bool(obj.get("id"))


def _made_here(
    session: AsyncSession,
) -> Callable[[Sequence[dict[str, Any]]], Awaitable[frozenset[str]]]:
    async def read(events: Sequence[dict[str, Any]]) -> frozenset[str]:
        objects = [event_object(event) for event in events]
        return await made_here_in(session, [o for o in objects if _is_refund(o)])

    return read


async def refund_changed(ctx: EventContext) -> None:
    """Take the refund's newer state onto its request (in the event's
    transaction), then queue the event's alert."""
    if _is_refund(ctx.obj):
        await apply_refund_event(
            ctx.deps,
            ctx.session,
            ctx.obj,
            event_id=ctx.id,
            event_created=int(ctx.event.get("created") or 0),
            now=ctx.now,
            # One read for the round's refunds; most were made elsewhere.
            made_here=await ctx.once("refunds_made_here", _made_here(ctx.session)),
        )
    await refund_seen(ctx)
    # State first, so an alert built after it could read the new state.
    await send_alert(ctx)
