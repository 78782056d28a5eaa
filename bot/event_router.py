"""Routes a stored Stripe event to the handlers registered for its type."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.deps import Deps
from bot.stripe_shapes import event_object
from storage.outbox import Queued


@dataclass(frozen=True)
class EventContext:
    """One event being processed, inside the transaction that finishes it.

    Whatever handlers write through `session` (state, outbox rows) commits
    together with the event's `processed` mark, or not at all.
    """

    deps: Deps
    session: AsyncSession
    event: dict[str, Any]
    now: float
    # Alerts for the worker to queue in one statement with the rest of its
    # round (one round trip for all, not one each); None: queue at once.
    alerts: list[Queued] | None = None

    @property
    def type(self) -> str:
        return str(self.event["type"])

    @property
    def id(self) -> str:
        return str(self.event["id"])

    @property
    def obj(self) -> dict[str, Any]:
        # Thin or malformed payloads (a newer API version) carry no object.
        return event_object(self.event)


EventHandler = Callable[[EventContext], Awaitable[None]]


class EventRouter:
    """Event type -> the handlers to run, in the order added.

    The app adds one handler per type (handlers.stripe_events.EVENT_HANDLERS,
    which refuses a second); tests may add a step after it, e.g. one that
    fails, to see the event's transaction undone and retried.
    """

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[EventHandler]] = defaultdict(list)

    def add(self, event_type: str, handler: EventHandler) -> None:
        self._handlers[event_type].append(handler)

    def handlers_for(self, event_type: str) -> list[EventHandler]:
        return list(self._handlers.get(event_type, ()))

    async def dispatch(self, ctx: EventContext) -> int:
        """Run every handler for the event's type; returns how many ran."""
        handlers = self.handlers_for(ctx.type)
        for handler in handlers:
            await handler(ctx)
        return len(handlers)
