"""The storm look and fold read a channel's waiting alerts through the outbox's
index, in its order, without sorting the backlog (as tests/storage/
test_query_plans.py checks for the other per-round statements)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import storms
from storage.engine import make_sessionmaker
from storage.models import OutboxMessage
from tests.storage.test_query_plans import (
    assert_index_ordered,
    insert_analyzed,
    statements_of,
)

NOW = 1_800_000_000.0
CHANNELS = [f"C{i:03d}" for i in range(4)]
SENT = 30_000
WAITING = 5_000


def is_card(i: int) -> bool:
    return i % 100 == 97


async def fill(engine: AsyncEngine) -> None:
    """Alerts sent long ago, then a storm waiting in four channels, with a
    card (no digest line: never folded) every 100th."""
    rows = [
        {
            "key": f"alert:evt_{i:06d}",
            "kind": "post",
            "channel": CHANNELS[i % len(CHANNELS)],
            "text": f"alert {i} " + "x" * 300,
            "digest_line": None if is_card(i) else f"line {i}",
            "facts": {"event": f"evt_{i:06d}", "type": "charge.succeeded"},
            "status": "sent" if i < SENT else "pending",
            "attempts": 0,
            "next_attempt_at": 0.0,
            "created_at": NOW - 10,
            "reply_broadcast": False,
        }
        for i in range(SENT + WAITING)
    ]
    await insert_analyzed(engine, (OutboxMessage, rows))


async def test_the_storm_look_and_fold_read_the_channel_through_the_index(
    engine: AsyncEngine,
) -> None:
    await fill(engine)
    sessions = make_sessionmaker(engine)
    looked: list[storms.Waiting] = []
    folded: list[int] = []

    async def look() -> None:
        async with sessions() as session, session.begin():
            looked.append(
                await storms.waiting(session, channel="C001", now=NOW, limit=401)
            )

    async def fold() -> None:
        async with sessions() as session, session.begin():
            started = await storms.begin_fold(
                session, channel="C001", claimant="me", now=NOW, lease=30.0
            )
        after = count = 0
        while True:
            async with sessions() as session, session.begin():
                sliced = await storms.fold_slice(
                    session,
                    fold=started,
                    channel="C001",
                    claimant="me",
                    now=NOW,
                    lease=30.0,
                    after=after,
                    limit=500,
                )
            assert sliced is not None
            if sliced[1] == after:
                break
            count, after = count + sliced[0], sliced[1]
        folded.append(count)

    for statement in await statements_of(engine, look):
        await assert_index_ordered(
            engine, statement, table="outbox", index="ix_outbox_due"
        )
    mine = [i for i in range(SENT, SENT + WAITING) if i % 4 == 1]
    # The look stops at its limit: the channel's first 401 waiting rows.
    cards = sum(1 for i in mine[:401] if is_card(i))
    assert cards > 0
    assert looked == [
        storms.Waiting(foldable=401 - cards, other=cards, oldest_foldable=NOW - 10)
    ]

    # The fold reads the channel's waiting range a slice at a time, each
    # slice in the index's order from where the last one ended: never the
    # sent history, never a sort of the backlog.
    fold_selects = [
        s
        for s in await statements_of(engine, fold)
        if "FROM outbox" in s[0] and "max(" not in s[0]
    ]
    assert len(fold_selects) > 2
    for statement in fold_selects:
        await assert_index_ordered(
            engine, statement, table="outbox", index="ix_outbox_due"
        )
    # Every waiting alert of the channel, none of its cards, no other channel.
    assert folded == [sum(1 for i in mine if not is_card(i))]
    async with sessions() as session:
        left = await session.scalar(
            select(func.count()).where(
                OutboxMessage.status == "pending",  # type: ignore[arg-type]
                OutboxMessage.channel == "C001",  # type: ignore[arg-type]
            )
        )
    assert left == sum(1 for i in mine if is_card(i))
