"""Disputes: scheduled jobs and start-up recovery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import disputes
from bot.deps import Deps

RECONCILE_INTERVAL_SECONDS = 15 * 60
FIRST_RECONCILE_AFTER = 60
# Webhook events name the charge only by ID; who paid follows shortly.
CUSTOMER_INTERVAL_SECONDS = 30


async def send_reminders(deps: Deps) -> None:
    """Queue the deadline reminders that are due (one per dispute and threshold)."""
    await disputes.send_due_reminders(deps)


async def reconcile(deps: Deps) -> None:
    """Repair missed dispute events from Stripe, then finish cut-short calls."""
    await disputes.reconcile(deps)
    await disputes.finish_unfinished(deps)


async def fill_in_customers(deps: Deps) -> None:
    """Put who paid on new dispute cards (one charge read per new dispute)."""
    await disputes.fill_in_customers(deps)


async def finish_unfinished(deps: Deps) -> None:
    """Resend submissions and acceptances a crash left without Stripe's answer."""
    await disputes.finish_unfinished(deps)


def register(scheduler: AsyncIOScheduler, deps: Deps) -> None:
    """Add this module's periodic jobs."""
    # A run that falls behind is merged into one; two never overlap here (other
    # instances may run theirs: the reminder rows keep that to one nag each).
    common = {"args": [deps], "coalesce": True, "max_instances": 1}
    scheduler.add_job(
        send_reminders,
        "interval",
        seconds=deps.settings.NAG_INTERVAL_SECONDS,
        id="dispute-reminders",
        **common,
    )
    scheduler.add_job(
        reconcile,
        "interval",
        seconds=RECONCILE_INTERVAL_SECONDS,
        id="dispute-reconcile",
        # Soon after start too: a fresh deployment learns of open disputes.
        next_run_time=datetime.now(UTC) + timedelta(seconds=FIRST_RECONCILE_AFTER),
        **common,
    )
    scheduler.add_job(
        fill_in_customers,
        "interval",
        seconds=CUSTOMER_INTERVAL_SECONDS,
        id="dispute-customers",
        **common,
    )


def startup_tasks() -> list[Callable[[Deps], Awaitable[None]]]:
    return [finish_unfinished]
