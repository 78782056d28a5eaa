"""Webhook intake's one-statement insert: new ids said, redeliveries left
alone, and the rows committed (seen by another connection) when it returns."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import events as event_store
from storage.engine import make_sessionmaker
from storage.events import NewEvent

NOW = 1_800_000_000.0


def new_event(event_id: str, *, object_id: str | None = None) -> NewEvent:
    return NewEvent(
        id=event_id,
        type="charge.succeeded",
        livemode=True,
        created=1_700_000_000,
        object_id=object_id,
        payload=json.dumps({"id": event_id, "note": "ünïcode ✓"}),
    )


async def insert(engine: AsyncEngine, *events: NewEvent) -> set[str]:
    async with engine.connect() as conn:
        return await event_store.insert_events(conn, events=events, now=NOW)


async def test_new_ids_are_said_and_a_redelivery_is_left_as_it_was(
    engine: AsyncEngine,
) -> None:
    assert await insert(
        engine, new_event("evt_1"), new_event("evt_2", object_id="ch_1")
    )
    assert await insert(engine, new_event("evt_2"), new_event("evt_3")) == {"evt_3"}
    assert await insert(engine) == set()
    # Read on a connection of its own: what was inserted is committed.
    async with make_sessionmaker(engine)() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT id, type, livemode, created, object_id, payload, "
                    "received_at, status, attempts, next_attempt_at, seq "
                    "FROM stripe_event ORDER BY seq"
                )
            )
        ).all()
    assert [r.id for r in rows] == ["evt_1", "evt_2", "evt_3"]
    second = rows[1]
    assert (second.type, bool(second.livemode), second.created) == (
        "charge.succeeded",
        True,
        1_700_000_000,
    )
    # The first delivery's columns stay; the redelivery changed nothing.
    assert second.object_id == "ch_1"
    assert json.loads(second.payload)["note"] == "ünïcode ✓"
    assert (second.received_at, second.status, second.attempts) == (NOW, "pending", 0)
    assert second.next_attempt_at == 0.0
    # Claimed in arrival order, like events stored in a session.
    async with make_sessionmaker(engine)() as session, session.begin():
        due = await event_store.lock_due_events(session, now=NOW, limit=10)
    assert [e.id for e in due] == ["evt_1", "evt_2", "evt_3"]


async def test_a_batch_of_hundreds_goes_in_one_statement(engine: AsyncEngine) -> None:
    events = [new_event(f"evt_{i:04d}") for i in range(300)]
    assert await insert(engine, *events) == {e.id for e in events}
    assert await insert(engine, *events[:150]) == set()
