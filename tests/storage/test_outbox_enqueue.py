"""Queueing many messages at once (a round's alerts, a scan's reminders):
every message once, in the order given, keys queued before left alone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import outbox
from storage.engine import make_sessionmaker
from storage.models import OutboxMessage

NOW = 1_800_000_000.0


def alert(n: int, *, text: str = "") -> outbox.Queued:
    return outbox.Queued(
        key=f"alert:evt_{n:04d}",
        channel="C_ALERTS",
        text=text or f"alert {n}",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": f"*{n}*"}}],
        digest_line=f"line {n}",
        facts={"event": f"evt_{n:04d}", "amount": n, "currency": "usd"},
    )


async def test_a_large_batch_is_queued_whole_and_keys_queued_before_stay_as_they_were(
    engine: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(engine)
    # Queued once before: these must keep their first text.
    earlier = [alert(n, text="first") for n in (0, 31, 32, 33, 150, 239)]
    async with sessions() as session, session.begin():
        await outbox.enqueue_many(session, messages=earlier, now=NOW)
    # More rows than one statement carries, with the earlier keys among them
    # (also where one statement's rows end and the next one's begin), and a
    # key given twice.
    batch = [alert(n) for n in range(240)] + [alert(7, text="again")]
    async with sessions() as session, session.begin():
        await outbox.enqueue_many(session, messages=batch, now=NOW + 1)

    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    OutboxMessage.key,  # type: ignore[call-overload]
                    OutboxMessage.text,
                    OutboxMessage.facts,
                    OutboxMessage.blocks,
                ).order_by(OutboxMessage.id)
            )
        ).all()
    assert [r.key for r in rows] == [m.key for m in earlier] + [
        f"alert:evt_{n:04d}" for n in range(240) if n not in (0, 31, 32, 33, 150, 239)
    ]
    texts = {r.key: r.text for r in rows}
    assert [texts[m.key] for m in earlier] == ["first"] * len(earlier)
    assert texts["alert:evt_0007"] == "alert 7"
    by_key = {r.key: r for r in rows}
    assert by_key["alert:evt_0100"].facts == {
        "event": "evt_0100",
        "amount": 100,
        "currency": "usd",
    }
    assert by_key["alert:evt_0100"].blocks == alert(100).blocks
