"""Scheduled jobs: plain async functions of (deps), run by APScheduler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.deps import Deps


def register(scheduler: AsyncIOScheduler, deps: Deps) -> None:
    """Add every periodic job to the scheduler."""


def startup_tasks() -> list[Callable[[Deps], Awaitable[None]]]:
    return []
