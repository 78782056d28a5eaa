"""Routes a stored Stripe event to the handlers registered for its type."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.deps import Deps
from bot.stripe_shapes import event_object
from storage.outbox import Queued

T = TypeVar("T")
# Work a handler leaves for the end of the round: called once with every item
# the round's events gave it, in the order first given.
Later = Callable[[AsyncSession, list[Any], float], Awaitable[None]]


@dataclass
class Round:
    """A worker's round: many events in one transaction.

    Handlers leave work that needs doing once per round, not once per event
    (`EventContext.later`): it runs at the round's end, after the round's
    alerts are queued, in the same transaction. And they may read once for
    every event of the round (`EventContext.once`): each statement is a round
    trip, and most events need none.
    """

    # Every event the round claimed, parsed (it may stop before the last).
    events: Sequence[dict[str, Any]]
    alerts: list[Queued] = field(default_factory=list)
    _later: dict[Later, dict[Hashable, None]] = field(default_factory=dict)
    _once: dict[str, Any] = field(default_factory=dict)

    def leave(self, work: Later, item: Hashable) -> None:
        self._later.setdefault(work, {})[item] = None

    async def read_once(
        self, name: str, read: Callable[[Sequence[dict[str, Any]]], Awaitable[T]]
    ) -> T:
        if name not in self._once:
            self._once[name] = await read(self.events)
        result: T = self._once[name]
        return result

    async def finish(self, session: AsyncSession, now: float) -> None:
        """Run the work left for the round's end."""
        later, self._later = self._later, {}
        for work, items in later.items():
            await work(session, list(items), now)


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
    # The worker's round, when the event is one of many in its transaction:
    # its alerts are queued in one statement with the round's (one round
    # trip for all, not one each). None: alone, queued at once.
    round: Round | None = None

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

    async def later(self, work: Later, item: Hashable) -> None:
        """`work` for `item` at the round's end (at once, alone): once per
        item, in the event's transaction all the same. Only for work whose
        result no later event of the round reads, and whose order with the
        round's other work does not matter."""
        if self.round is None:
            await work(self.session, [item], self.now)
        else:
            self.round.leave(work, item)

    async def once(
        self,
        name: str,
        read: Callable[[Sequence[dict[str, Any]]], Awaitable[T]],
    ) -> T:
        """What `read` gives for the round's events (for this event alone,
        outside a round), read once per round under `name`."""
        if self.round is None:
            return await read([self.event])
        return await self.round.read_once(name, read)


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
