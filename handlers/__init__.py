"""What happens for each command, action, view, Stripe event and job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.async_app import AsyncApp

from bot import access
from bot.deps import Deps
from bot.event_router import EventRouter
from handlers import actions, commands, events, jobs, stripe_events, views


def register_slack(app: AsyncApp, deps: Deps) -> None:
    """Every Slack listener: commands, block actions, view submissions, events,
    all behind the one support check."""
    access.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
    views.register(app, deps)
    events.register(app, deps)


def register_stripe_events(router: EventRouter) -> None:
    stripe_events.register(router)


def register_jobs(scheduler: AsyncIOScheduler, deps: Deps) -> None:
    jobs.register(scheduler, deps)


def startup_tasks() -> list[Callable[[Deps], Awaitable[None]]]:
    """Work a crash may have left half-done, finished before serving."""
    return jobs.startup_tasks()


def background_startup_tasks() -> list[Callable[[Deps], Awaitable[None]]]:
    """Reads from Stripe begun at start-up that run while the server serves."""
    return jobs.background_startup_tasks()
