"""Group commit for webhook intake: deliveries that arrive together share a
transaction, so each one still waits for its own durable commit before its 200
but the commit (and SQLite's single write lock) is paid once per batch."""

from __future__ import annotations

import asyncio
import logging

from bot.deps import Deps
from storage import events as event_store
from storage.events import NewEvent

log = logging.getLogger(__name__)


class EventIngest:
    def __init__(self, deps: Deps, *, max_batch: int = 256) -> None:
        self.deps = deps
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[NewEvent, asyncio.Future[bool]]] = (
            asyncio.Queue()
        )
        self._writing = False

    def waiting(self) -> bool:
        """Whether deliveries are waiting for their commit (and their 200)."""
        return self._writing or not self._queue.empty()

    async def store(self, event: NewEvent) -> bool:
        """Durably store one event; True if new, False if stored before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, future))
        return await future

    async def run(self) -> None:
        while True:
            first = await self._queue.get()
            self._writing = True
            try:
                await self._write(first)
            finally:
                self._writing = False

    def _take_batch(
        self, first: tuple[NewEvent, asyncio.Future[bool]]
    ) -> list[tuple[NewEvent, asyncio.Future[bool]]]:
        batch = [first]
        while len(batch) < self.max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _write(self, first: tuple[NewEvent, asyncio.Future[bool]]) -> None:
        deps = self.deps
        batch = [first]
        try:
            async with deps.sessions() as session, session.begin():
                # The batch is formed once the connection is ours: deliveries
                # that arrived while it was busy (SQLite has one writer) join
                # this commit instead of waiting for the next one.
                await session.connection()
                batch = self._take_batch(first)
                # Sorted: two instances inserting overlapping batches then
                # take the unique index's locks in the same order and cannot
                # deadlock.
                unique = sorted(
                    {e.id: e for e, _ in batch}.values(), key=lambda e: e.id
                )
                new_ids = await event_store.store_events(
                    session, events=unique, now=deps.clock.now()
                )
        except Exception as exc:
            log.exception("storing %d Stripe events failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        answered: set[str] = set()
        for event, future in batch:
            if future.done():  # the request went away meanwhile
                continue
            # A second copy in the same batch is a duplicate of the first.
            future.set_result(event.id in new_ids and event.id not in answered)
            answered.add(event.id)
        if new_ids:
            deps.wake.events.set()
