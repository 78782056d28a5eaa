"""Group commit for webhook intake: deliveries that arrive together are stored
by one statement, its own transaction, so each one still waits for its durable
commit before its 200 but the commit (and SQLite's single write lock) is paid
once per batch."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.deps import Deps
from storage import events as event_store
from storage.engine import is_sqlite
from storage.events import NewEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Delivery:
    """A delivery waiting for its commit; `stored` answers whether it was new."""

    event: NewEvent
    stored: asyncio.Future[bool]


class EventIngest:
    def __init__(self, deps: Deps, *, max_batch: int = 256) -> None:
        self.deps = deps
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._writing = False
        # SQLite's one connection is shared: intake takes it per batch.
        self._shared = is_sqlite(deps.engine)
        self._conn: AsyncConnection | None = None

    def waiting(self) -> bool:
        """Whether deliveries are waiting for their commit (and their 200)."""
        return self._writing or not self._queue.empty()

    async def store(self, event: NewEvent) -> bool:
        """Durably store one event; True if new, False if stored before."""
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Delivery(event, stored))
        return await stored

    async def run(self) -> None:
        try:
            while True:
                first = await self._queue.get()
                self._writing = True
                try:
                    await self._write(first)
                finally:
                    self._writing = False
        finally:
            await self._release()

    def _take_batch(self, first: _Delivery) -> list[_Delivery]:
        batch = [first]
        while len(batch) < self.max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _connection(self) -> AsyncConnection:
        """PostgreSQL: one connection kept for intake (no pool checkout and
        no pre-ping round trip per batch). SQLite: the one pooled
        connection, shared with the workers, taken per batch."""
        if self._conn is None:
            self._conn = await self.deps.engine.connect()
        return self._conn

    async def _release(self, *, broken: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if broken:
                await conn.invalidate()
            await conn.close()

    async def _write(self, first: _Delivery) -> None:
        deps = self.deps
        batch = [first]
        try:
            kept = self._conn is not None
            # The batch is formed once the connection is ours: deliveries
            # that arrived while it was busy (SQLite has one connection)
            # join this commit instead of waiting for the next one.
            conn = await self._connection()
            batch = self._take_batch(first)
            # Sorted: two instances inserting overlapping batches then take
            # the unique index's locks in the same order and cannot deadlock.
            unique = sorted(
                {d.event.id: d.event for d in batch}.values(), key=lambda e: e.id
            )
            try:
                # One statement outside a transaction: committed when it returns.
                new_ids = await event_store.insert_events(
                    conn, events=unique, now=deps.clock.now()
                )
            except Exception as exc:
                if not kept:
                    raise
                # The kept connection may have died since the last batch (a
                # database restart): once more on a new one, which the pool
                # pings first. Had the first try committed after all, the
                # second finds the ids stored and answers "duplicate": a 200
                # all the same, for an event that is stored.
                log.warning(
                    "intake's connection failed (%s); reconnecting", type(exc).__name__
                )
                await self._release(broken=True)
                new_ids = await event_store.insert_events(
                    await self._connection(), events=unique, now=deps.clock.now()
                )
        except Exception as exc:
            log.exception("storing %d Stripe events failed", len(batch))
            await self._release(broken=not self._shared)
            for delivery in batch:
                if not delivery.stored.done():
                    delivery.stored.set_exception(exc)
            return
        finally:
            if self._shared:
                await self._release()
        answered: set[str] = set()
        for delivery in batch:
            if delivery.stored.done():  # the request went away meanwhile
                continue
            event_id = delivery.event.id
            # A second copy in the same batch is a duplicate of the first.
            delivery.stored.set_result(event_id in new_ids and event_id not in answered)
            answered.add(event_id)
        if new_ids:
            deps.wake.events.set()
