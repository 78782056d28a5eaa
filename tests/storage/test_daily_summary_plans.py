"""The daily summary reads its 14 days of events through an index, however
long the history stored before them."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.daily.figures import COUNTED_TYPES
from storage import daily_summaries
from storage import events as event_store
from storage.engine import make_sessionmaker
from storage.events import NewEvent
from tests.storage.test_query_plans import (
    analyze,
    assert_index_ordered,
    statements_of,
)

DAY = 86_400
START = 1_780_000_000
HISTORY_DAYS = 120
PER_DAY = 100


async def test_the_window_is_read_through_the_created_index(
    engine: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(engine)
    new = [
        NewEvent(
            id=f"evt_{i:06d}",
            type=COUNTED_TYPES[i % len(COUNTED_TYPES)],
            livemode=False,
            created=START + i * DAY // PER_DAY,
            object_id=f"obj_{i}",
            payload=json.dumps({"id": f"evt_{i:06d}", "pad": "x" * 1500}),
        )
        for i in range(HISTORY_DAYS * PER_DAY)
    ]
    async with sessions() as session, session.begin():
        await event_store.store_events(session, events=new, now=START)
    await analyze(engine)
    window_start = START + (HISTORY_DAYS - 14) * DAY
    read: list[str] = []

    async def summary_read() -> None:
        async with sessions() as session:
            async for batch in daily_summaries.stream_events(
                session,
                types=COUNTED_TYPES,
                created_from=window_start,
                created_before=START + HISTORY_DAYS * DAY,
                livemode=False,
            ):
                read.extend(e.id for e in batch)

    sent = await statements_of(engine, summary_read)
    window = [s for s in sent if "stripe_event.created" in s[0]]
    assert window, sent
    for statement in window:
        await assert_index_ordered(
            engine, statement, table="stripe_event", index="ix_stripe_event_created"
        )
    assert len(read) == 14 * PER_DAY
    assert read[0] == f"evt_{(HISTORY_DAYS - 14) * PER_DAY:06d}"
