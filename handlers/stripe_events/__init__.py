"""Stripe event handlers: one table, one handler for each event type.

Each handler does all its type needs, state first, then the alert; nothing
else registers for these types, so the order of registration never matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from bot.event_router import EventHandler, EventRouter
from handlers.stripe_events.alerts import send_alert
from handlers.stripe_events.disputes import dispute_changed
from handlers.stripe_events.fraud_warnings import charge_refunded, warning_created
from handlers.stripe_events.refunds import refund_changed


def event_table(
    entries: Iterable[tuple[str, EventHandler]],
) -> Mapping[str, EventHandler]:
    """The entries as a read-only table; a type named twice is an error."""
    table: dict[str, EventHandler] = {}
    for event_type, handler in entries:
        if event_type in table:
            raise ValueError(f"{event_type} has two handlers")
        table[event_type] = handler
    return MappingProxyType(table)


# The 19 recommended event types (bot.blocks.alerts.ALERT_GROUPS).
EVENT_HANDLERS = event_table(
    [
        # Payments: an alert.
        ("charge.succeeded", send_alert),
        ("charge.failed", send_alert),
        ("payment_intent.succeeded", send_alert),
        ("payment_intent.payment_failed", send_alert),
        ("payment_intent.canceled", send_alert),
        # Refunds: a request's refund kept current (and an early fraud
        # warning's refund offer), then an alert.
        ("charge.refunded", charge_refunded),
        ("refund.created", refund_changed),
        ("refund.updated", refund_changed),
        ("refund.failed", refund_changed),
        ("charge.refund.updated", refund_changed),
        # Payouts: an alert.
        ("payout.created", send_alert),
        ("payout.paid", send_alert),
        ("payout.failed", send_alert),
        # Disputes: the dispute card and its thread.
        ("radar.early_fraud_warning.created", warning_created),
        ("charge.dispute.created", dispute_changed),
        ("charge.dispute.updated", dispute_changed),
        ("charge.dispute.closed", dispute_changed),
        ("charge.dispute.funds_withdrawn", dispute_changed),
        ("charge.dispute.funds_reinstated", dispute_changed),
    ]
)


def register(router: EventRouter) -> None:
    """Add the table to the router; a type it handles already is an error."""
    for event_type, handler in EVENT_HANDLERS.items():
        if router.handlers_for(event_type):
            raise ValueError(f"{event_type} is registered already")
        router.add(event_type, handler)
