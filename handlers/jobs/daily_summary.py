"""The daily summary: at DAILY_SUMMARY_AT in TIMEZONE, and caught up after."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.daily.posting import post_if_due
from bot.deps import Deps

# How often a missed summary is looked for: at start (the first run is
# immediate), after a crash between claim and post (once the lease runs out),
# after Slack failed (once the retry wait is over).
CATCH_UP_SECONDS = 300


async def post_daily_summary(deps: Deps) -> None:
    """Post yesterday's summary if it is due and no instance has."""
    await post_if_due(deps)


def register(scheduler: AsyncIOScheduler, deps: Deps) -> None:
    """Add the summary's jobs, when DAILY_SUMMARY_CHANNEL is set."""
    settings = deps.settings
    if settings.DAILY_SUMMARY_CHANNEL is None:
        return
    at = settings.daily_summary_time
    common = {"args": [deps], "coalesce": True, "max_instances": 1}
    scheduler.add_job(
        post_daily_summary,
        CronTrigger(hour=at.hour, minute=at.minute, timezone=settings.zone),
        id="daily-summary",
        # A late start (a busy loop, a deploy) still runs it; the catch-up
        # job would anyway.
        misfire_grace_time=None,
        **common,
    )
    scheduler.add_job(
        post_daily_summary,
        "interval",
        seconds=CATCH_UP_SECONDS,
        id="daily-summary-catch-up",
        next_run_time=datetime.now(UTC),
        **common,
    )
