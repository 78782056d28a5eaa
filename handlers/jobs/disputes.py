"""Disputes: scheduled jobs and start-up recovery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import stripe
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import disputes
from bot.backoff import backoff
from bot.deps import Deps
from bot.stripe_api import describe_error

log = logging.getLogger(__name__)

RECONCILE_INTERVAL_SECONDS = 15 * 60
# A first read that fails (Stripe or the database unreachable at deploy time)
# is tried again soon, not only at the next 15-minute reconcile.
FIRST_SYNC_RETRY_BASE = 5.0
FIRST_SYNC_RETRY_CAP = 120.0
# Webhook events name the charge only by ID; who paid follows shortly.
CUSTOMER_INTERVAL_SECONDS = 30


async def send_reminders(deps: Deps) -> None:
    """Queue the deadline reminders that are due (one per dispute and threshold)."""
    await disputes.send_due_reminders(deps)


async def reconcile(deps: Deps) -> None:
    """Finish cut-short calls, then repair missed dispute events from Stripe."""
    # Resent first, with their keys: a listing that already shows Stripe's
    # submission would make the claim look finished, and whoever submitted
    # would never be named in the card's thread.
    await disputes.finish_unfinished(deps)
    await disputes.reconcile(deps)


async def sync_at_start(deps: Deps) -> None:
    """Read Stripe's disputes as soon as the bot starts, until one read finishes."""
    attempts = 0
    while True:
        try:
            await reconcile(deps)
            return
        except stripe.StripeError as exc:
            reason = describe_error(exc)
        except Exception as exc:
            # Keep trying whatever went wrong: until a read finishes, the
            # bot says it is still reading instead of "no dispute".
            reason = type(exc).__name__
        log.warning("reading disputes from Stripe at start failed: %s", reason)
        await asyncio.sleep(
            backoff(attempts, base=FIRST_SYNC_RETRY_BASE, cap=FIRST_SYNC_RETRY_CAP)
        )
        attempts += 1


async def fill_in_customers(deps: Deps) -> None:
    """Put who paid on new dispute cards (one charge read per new dispute)."""
    await disputes.fill_in_customers(deps)


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
        # The first run is `sync_at_start`, as the server starts.
        **common,
    )
    scheduler.add_job(
        fill_in_customers,
        "interval",
        seconds=CUSTOMER_INTERVAL_SECONDS,
        id="dispute-customers",
        **common,
    )


def background_startup_tasks() -> list[Callable[[Deps], Awaitable[None]]]:
    return [sync_at_start]
