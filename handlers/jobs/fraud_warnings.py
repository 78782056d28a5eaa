"""Early fraud warnings: the job that checks their charge with Stripe."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import fraud_warnings
from bot.deps import Deps

# A new warning's Refund… button follows its alert within this.
CHECK_INTERVAL_SECONDS = 10


async def check_warnings(deps: Deps) -> None:
    """Offer a refund on new warnings whose charge can still be refunded."""
    await fraud_warnings.check_warnings(deps)


def register(scheduler: AsyncIOScheduler, deps: Deps) -> None:
    """Add this module's periodic job."""
    scheduler.add_job(
        check_warnings,
        "interval",
        seconds=CHECK_INTERVAL_SECONDS,
        id="fraud-warning-checks",
        args=[deps],
        coalesce=True,
        max_instances=1,
    )
