"""Disputes: scheduled jobs and start-up recovery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.deps import Deps


def register(scheduler: AsyncIOScheduler, deps: Deps) -> None:
    """Add this module's periodic jobs."""


def startup_tasks() -> list[Callable[[Deps], Awaitable[None]]]:
    return []
