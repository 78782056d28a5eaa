"""Event processing rate against the backlog, SQLite and PostgreSQL.

The event worker of `python -m bot` (the real router and handlers, production
timings), in this process on one core, over a stored backlog of 1,000, 10,000
and 50,000 events: the 13 non-dispute recommended types round robin with one
dispute in 100, fixture-sized, stored the way intake stores them. Printed:
events processed per second over the first `--measure` events of each
backlog (alerts queued in the outbox, committed with the event). No Slack:
the outbox sender is not running, so this is processing alone.

    python bench/event_rate.py [--backlogs 1000,10000,50000] [--measure 5000]
        [--profile] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import handlers
from bench.scratch_db import PostgresUnavailable, scratch_postgres
from bot.config import Settings
from bot.deps import Deps
from bot.event_router import EventRouter
from bot.workers import EventWorker, WorkerPolicy
from storage import events as event_store
from storage.events import NewEvent
from storage.migrate import upgrade
from tests.support import (
    BOT_TOKEN,
    CHANNELS,
    OBJECT_FOR_TYPE,
    SIGNING_SECRET,
    STRIPE_KEY,
    WEBHOOK_SECRET,
    event,
)

INSERT_CHUNK = 2_000
WARM_UP = 200
TYPES = sorted(t for t in OBJECT_FOR_TYPE if "dispute" not in t)


def backlog(count: int) -> list[NewEvent]:
    stored = []
    for i in range(count):
        kind = "charge.dispute.created" if i % 100 == 99 else TYPES[i % len(TYPES)]
        evt: dict[str, Any] = event(kind)
        obj = evt["data"]["object"]
        stored.append(
            NewEvent(
                id=evt["id"],
                type=kind,
                livemode=False,
                created=evt["created"],
                object_id=obj.get("id"),
                payload=json.dumps(evt),
            )
        )
    return stored


def settings(db_url: str) -> Settings:
    # Nothing here calls Slack or Stripe: the URLs lead nowhere.
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "STRIPE_API_KEY": STRIPE_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "DATABASE_URL": db_url,
        **CHANNELS,
    }
    return Settings(_env_file=None, **values)


async def store(deps: Deps, events: list[NewEvent]) -> None:
    now = time.time()
    for start in range(0, len(events), INSERT_CHUNK):
        async with deps.sessions() as session, session.begin():
            await event_store.store_events(
                session, events=events[start : start + INSERT_CHUNK], now=now
            )


async def rate(db_url: str, count: int, measure: int, profile: bool) -> float:
    """Events processed per second over the first `measure` of `count`."""
    deps = Deps.create(settings(db_url))
    try:
        await upgrade(deps.engine)
        router = EventRouter()
        handlers.register_stripe_events(router)
        worker = EventWorker(deps, router, WorkerPolicy())
        # A warm-up first (statement caches, first connections), not timed;
        # then a backlog of exactly `count`.
        await store(deps, backlog(WARM_UP))
        while await worker.process_round():
            pass
        await store(deps, backlog(count))
        async with deps.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
        target, done = min(measure, count), 0
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        while done < target:
            tried = await worker.process_round()
            if tried == 0:
                raise RuntimeError(f"nothing left to process after {done}")
            done += tried
        elapsed = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats("cumulative")
            stats.print_stats(45)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return done / elapsed
    finally:
        await deps.aclose()


async def on_postgres(count: int, measure: int, profile: bool) -> float | None:
    try:
        async with scratch_postgres("stripe_ops_rate") as url:
            return await rate(url, count, measure, profile)
    except PostgresUnavailable as exc:
        print(f"{exc}; skipped", file=sys.stderr)
        return None


async def on_sqlite(count: int, measure: int, profile: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return await rate(f"sqlite:///{Path(tmp) / 'rate.db'}", count, measure, profile)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlogs", default="1000,10000,50000")
    parser.add_argument("--measure", type=int, default=5_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core, as the server has
    print(f"events processed per second over the first {args.measure:,} events")
    print(f"{'backlog':>10} {'SQLite':>10} {'PostgreSQL':>12}")
    for count in (int(b) for b in args.backlogs.split(",")):
        lite = pg = None
        if args.db in ("sqlite", "both"):
            lite = await on_sqlite(count, args.measure, args.profile)
        if args.db in ("postgres", "both"):
            pg = await on_postgres(count, args.measure, args.profile)
        shown = ["n/a" if r is None else f"{r:,.0f}" for r in (lite, pg)]
        print(f"{count:>10,} {shown[0]:>10} {shown[1]:>12}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
