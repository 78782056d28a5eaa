"""Scheduled jobs: plain async functions of (deps), run by APScheduler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.deps import Deps
from handlers.jobs import daily_summary, disputes, fraud_warnings, refunds


def register(scheduler: AsyncIOScheduler, deps: Deps) -> None:
    """Add every periodic job to the scheduler."""
    refunds.register(scheduler, deps)
    disputes.register(scheduler, deps)
    fraud_warnings.register(scheduler, deps)
    daily_summary.register(scheduler, deps)


def startup_tasks() -> list[Callable[[Deps], Awaitable[None]]]:
    """Work a crash may have left half-done, finished before serving."""
    return refunds.startup_tasks()


def background_startup_tasks() -> list[Callable[[Deps], Awaitable[None]]]:
    """Reads from Stripe begun at start-up that run while the server serves."""
    return disputes.background_startup_tasks()
