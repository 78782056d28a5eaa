"""Which alert rule took each Stripe event, and how many each took lately."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import StripeEvent

# Stripe retries a delivery for up to three days and keeps events for 30 (what
# a resend or the Events API can reach): an event received since `since` was
# created no earlier than this before it. The bound lets ix_stripe_event_created
# find the rows instead of a scan of every event ever received.
OLDEST_DELIVERY_SECONDS = 30 * 86_400


async def record_rule(
    session: AsyncSession, *, event_id: str, rule_key: str | None
) -> None:
    """Note the rule that took the event, in the event's own transaction."""
    await session.execute(
        update(StripeEvent)
        .where(col(StripeEvent.id) == event_id)
        .values(alert_rule=rule_key)
    )


async def count_by_rule(
    session: AsyncSession, *, since: float, event_types: Iterable[str]
) -> dict[str | None, int]:
    """Processed events of `event_types` received since `since`, by the key of
    the rule that took them; None counts those no rule took."""
    rows = await session.execute(
        select(col(StripeEvent.alert_rule), func.count())
        .where(
            col(StripeEvent.created) >= int(since) - OLDEST_DELIVERY_SECONDS,
            col(StripeEvent.received_at) >= since,
            col(StripeEvent.status) == "processed",
            col(StripeEvent.type).in_(sorted(event_types)),
        )
        .group_by(col(StripeEvent.alert_rule))
    )
    return {key: int(count) for key, count in rows.all()}
