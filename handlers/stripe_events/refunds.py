"""Refunds: state kept current from Stripe events."""

from __future__ import annotations

from bot.event_router import EventRouter


def register(router: EventRouter) -> None:
    """Add this module's event handlers."""
