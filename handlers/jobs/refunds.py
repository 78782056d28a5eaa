"""Refunds: scheduled jobs and start-up recovery.

Each job is a plain `async def job(deps)`, safe to run on several instances at
once: every change it makes is a conditional UPDATE that only one run wins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import refunds
from bot.deps import Deps

log = logging.getLogger(__name__)

# Approved requests whose Stripe call failed on the way are retried this often
# (each row also waits out its own backoff).
RETRY_INTERVAL_SECONDS = 60
# Start-up waits this long for Stripe at most: the server must come up to ack
# Slack; whatever is left is the retry job's.
STARTUP_BUDGET_SECONDS = 30.0


async def remind_pending(deps: Deps) -> None:
    """Nudge the approvers, once, about requests waiting a quarter of their time."""
    await refunds.remind_pending(deps)


async def expire_pending(deps: Deps) -> None:
    """Mark requests nobody decided in time, on their message and in the log."""
    await refunds.expire_pending(deps)


async def retry_approved(deps: Deps) -> None:
    """Ask Stripe again, with the same key, where the last attempt got no answer."""
    await refunds.finish_approved(deps)


async def finish_after_crash(deps: Deps) -> None:
    """Before serving: finish approved requests a crash may have left."""
    try:
        async with asyncio.timeout(STARTUP_BUDGET_SECONDS):
            await refunds.finish_approved(deps, at_startup=True)
    except TimeoutError:
        log.warning("Stripe is slow; the retry job finishes the approved refunds")


def register(scheduler: AsyncIOScheduler, deps: Deps) -> None:
    """Add this module's periodic jobs."""
    every = deps.settings.NAG_INTERVAL_SECONDS
    for job, seconds in (
        (remind_pending, every),
        (expire_pending, every),
        (retry_approved, min(every, RETRY_INTERVAL_SECONDS)),
    ):
        scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            args=[deps],
            id=f"refunds.{job.__name__}",
            coalesce=True,
            max_instances=1,
        )


def startup_tasks() -> list[Callable[[Deps], Awaitable[None]]]:
    return [finish_after_crash]
