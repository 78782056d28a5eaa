"""Event claim cost against the backlog: median time of one claim at 1,000,
10,000 and 50,000 pending events, on SQLite and PostgreSQL.

A claim is what the event worker runs at the start of every round: one
transaction that locks the next `event_batch` due events
(`storage.events.lock_due_events`), here rolled back so that every claim sees
the same backlog. Events are fixture-sized (a 2 KB payload), stored the way
intake stores them, `created` out of arrival order as Stripe sends them; the
tables are ANALYZEd before timing. A claim that costs the same at any backlog
keeps a burst's processing rate flat; one that grows with it makes the
backlog cost O(n^2).

SQLite runs on a temp file; PostgreSQL on a scratch database created on
TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and
dropped afterwards.

    python bench/claim_cost.py [--claims 50] [--backlogs 1000,10000,50000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch_db import PostgresUnavailable, scratch_postgres
from bot.workers.policy import WorkerPolicy
from storage import events as event_store
from storage.engine import make_engine, make_sessionmaker
from storage.events import NewEvent
from storage.migrate import upgrade

NOW = 1_800_000_000.0
INSERT_CHUNK = 2_000


def events(count: int) -> list[NewEvent]:
    pad = "x" * 2_000
    return [
        NewEvent(
            id=f"evt_{i:08d}",
            type="charge.succeeded",
            livemode=False,
            created=1_700_000_000 + (i * 7919) % count,
            object_id=f"ch_{i}",
            payload=json.dumps({"id": f"evt_{i:08d}", "pad": pad}),
        )
        for i in range(count)
    ]


async def claim_cost(db_url: str, backlog: int, claims: int, batch: int) -> float:
    """Median seconds of one claim over `claims` claims at `backlog` pending."""
    engine = make_engine(db_url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        stored = events(backlog)
        for start in range(0, backlog, INSERT_CHUNK):
            async with sessions() as session, session.begin():
                await event_store.store_events(
                    session, events=stored[start : start + INSERT_CHUNK], now=NOW
                )
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
        times: list[float] = []
        for _ in range(claims + 3):
            started = time.perf_counter()
            async with sessions() as session, session.begin():
                due = await event_store.lock_due_events(session, now=NOW, limit=batch)
                await session.rollback()
            times.append(time.perf_counter() - started)
            assert len(due) == batch, f"claimed {len(due)} of {batch}"
        return statistics.median(times[3:])  # the first ones warm caches up
    finally:
        await engine.dispose()


async def on_postgres(backlog: int, claims: int, batch: int) -> float | None:
    try:
        async with scratch_postgres("stripe_ops_claims") as url:
            return await claim_cost(url, backlog, claims, batch)
    except PostgresUnavailable as exc:
        print(f"{exc}; skipped", file=sys.stderr)
        return None


async def on_sqlite(backlog: int, claims: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return await claim_cost(
            f"sqlite:///{Path(tmp) / 'claims.db'}", backlog, claims, batch
        )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=50)
    parser.add_argument("--backlogs", default="1000,10000,50000")
    parser.add_argument("--batch", type=int, default=WorkerPolicy().event_batch)
    args = parser.parse_args()
    backlogs = [int(b) for b in args.backlogs.split(",")]
    print(f"median of {args.claims} claims of {args.batch} events, in ms")
    print(f"{'backlog':>10} {'SQLite':>10} {'PostgreSQL':>12}")
    for backlog in backlogs:
        lite = await on_sqlite(backlog, args.claims, args.batch)
        pg = await on_postgres(backlog, args.claims, args.batch)
        shown = "n/a" if pg is None else f"{pg * 1000:.2f}"
        print(f"{backlog:>10,} {lite * 1000:>10.2f} {shown:>12}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
