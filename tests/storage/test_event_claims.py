"""The event claim's order, and migration 0003 on a database that holds
events: pending events keep a stable order across the upgrade."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import events as event_store
from storage.engine import make_sessionmaker
from storage.events import NewEvent
from storage.migrate import alembic_config, current_revision, head_revision, upgrade

NOW = 1_800_000_000.0


def new_event(event_id: str, created: int) -> NewEvent:
    return NewEvent(
        id=event_id,
        type="charge.succeeded",
        livemode=False,
        created=created,
        object_id=None,
        payload=json.dumps({"id": event_id}),
    )


async def claim(engine: AsyncEngine, *, now: float = NOW) -> list[str]:
    async with make_sessionmaker(engine)() as session, session.begin():
        due = await event_store.lock_due_events(session, now=now, limit=10)
        return [e.id for e in due]


async def store(engine: AsyncEngine, *events: NewEvent, now: float = NOW) -> None:
    async with make_sessionmaker(engine)() as session, session.begin():
        await event_store.store_events(session, events=events, now=now)


async def test_new_events_are_claimed_in_arrival_order_after_due_retries(
    engine: AsyncEngine,
) -> None:
    # Stripe's `created` is not arrival order; a later delivery may be older.
    await store(engine, new_event("evt_1", 300), new_event("evt_2", 100))
    await store(engine, new_event("evt_3", 50))
    await store(engine, new_event("evt_retry_due", 10), new_event("evt_later", 20))
    async with make_sessionmaker(engine)() as session, session.begin():
        await event_store.mark_failed(
            session, event_id="evt_retry_due", error="boom", retry_at=NOW - 1
        )
        await event_store.mark_failed(
            session, event_id="evt_later", error="boom", retry_at=NOW + 60
        )
    assert await claim(engine) == ["evt_retry_due", "evt_1", "evt_2", "evt_3"]
    # When its retry time comes, the other failed event is claimed too.
    assert (await claim(engine, now=NOW + 60))[:2] == ["evt_retry_due", "evt_later"]


def _downgrade_to_0002(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, "0002")


async def test_upgrade_numbers_stored_events_in_a_stable_order(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade_to_0002)
    assert await current_revision(engine) == "0002"
    # Events stored by the old schema: pending ones out of `created` order,
    # and one processed.
    async with engine.begin() as conn:
        for event_id, created, received, status in [
            ("evt_b", 200, 10.0, "pending"),
            ("evt_a", 100, 20.0, "pending"),
            ("evt_done", 50, 1.0, "processed"),
            ("evt_c", 100, 5.0, "pending"),
        ]:
            await conn.execute(
                text(
                    "INSERT INTO stripe_event (id, type, livemode, created, "
                    "payload, received_at, status, attempts, next_attempt_at) "
                    "VALUES (:id, 'charge.succeeded', false, :created, '{}', "
                    ":received, :status, 0, 0)"
                ),
                {
                    "id": event_id,
                    "created": created,
                    "received": received,
                    "status": status,
                },
            )

    await upgrade(engine)  # what `python -m bot migrate` and start-up run

    assert await current_revision(engine) == head_revision()
    # An event that arrives after the upgrade, though Stripe created it first.
    await store(engine, new_event("evt_new", 1))
    assert await claim(engine) == ["evt_c", "evt_a", "evt_b", "evt_new"]
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, seq FROM stripe_event"))).all()
    seqs: dict[str, int] = {str(r[0]): int(r[1]) for r in rows}
    assert seqs["evt_new"] > max(v for k, v in seqs.items() if k != "evt_new")
    assert len(set(seqs.values())) == len(seqs)
