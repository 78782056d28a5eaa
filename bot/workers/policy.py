"""What both workers share: their timings, and the wait between rounds."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerPolicy:
    """Timings; tests shorten them, production keeps the defaults."""

    poll_seconds: float = 1.0
    # How long an outbox claim lasts unless its sender renews it (it does,
    # every quarter lease, while its Slack calls run): a killed sender's
    # rows are taken over within a lease and a poll (DESIGN invariant 9).
    lease_seconds: float = 8.0
    # Slack allows about one message per second per channel.
    channel_interval: float = 1.0
    # With more alerts than this waiting in a channel, they go out as digests.
    digest_threshold: int = 4
    retry_base: float = 1.0
    retry_cap: float = 300.0
    event_batch: int = 200
    # How long one event transaction may run before it commits.
    batch_seconds: float = 0.1
    # A transaction that has run this long commits early when webhook intake
    # is waiting for the database (SQLite has one writer): Stripe's 200 goes
    # first, processing continues in the next round.
    yield_after_seconds: float = 0.002
    # After a wake-up, wait this long before working, so that events (or
    # messages) arriving together share one round and one transaction
    # instead of one each.
    coalesce_seconds: float = 0.05
    # After this many failed attempts an event is reported in ALERT_CHANNEL
    # (once); it keeps being retried.
    report_failures_after: int = 5
    # After a post whose outcome we could not see (timeout, dropped
    # connection, 5xx), wait at least this long before looking for it in the
    # channel and sending again: a slow Slack may still be making it.
    unknown_outcome_wait: float = 30.0
    # When a channel's waiting alerts would take longer than this to send as
    # digests (at channel_interval a message), one storm summary goes instead.
    storm_seconds: float = 60.0
    # For storm_seconds after a summary, a channel's new alerts gather this
    # long before the next summary, instead of trickling out as digests.
    storm_gather_seconds: float = 15.0


async def wait_for_wake(event: asyncio.Event, seconds: float, coalesce: float) -> None:
    # Not wait_for: on Python 3.11 it swallows a cancel that arrives as the
    # event is set, and the worker then never stops (shutdown hangs).
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
            if coalesce > 0:
                await asyncio.sleep(coalesce)
    event.clear()
