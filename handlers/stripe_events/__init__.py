"""Stripe event handlers: state updates and alerts, one module per concern."""

from __future__ import annotations

from bot.event_router import EventRouter
from handlers.stripe_events import alerts


def register(router: EventRouter) -> None:
    alerts.register(router)
