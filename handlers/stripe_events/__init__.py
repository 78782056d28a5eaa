"""Stripe event handlers: state updates and alerts, one module per concern."""

from __future__ import annotations

from bot.event_router import EventRouter
from handlers.stripe_events import alerts, disputes, refunds


def register(router: EventRouter) -> None:
    # State first, so an alert built after it can read the new state.
    refunds.register(router)
    disputes.register(router)
    alerts.register(router)
