"""The Stripe event table: one handler for each recommended type, once."""

from __future__ import annotations

import pytest

from bot.blocks.alerts import ALERT_GROUPS
from bot.event_router import EventRouter
from bot.webhook_audit import RECOMMENDED_EVENTS
from handlers.stripe_events import EVENT_HANDLERS, event_table, register
from handlers.stripe_events.alerts import send_alert
from handlers.stripe_events.refunds import refund_changed


def test_every_recommended_type_has_exactly_one_handler() -> None:
    router = EventRouter()
    register(router)
    assert len(RECOMMENDED_EVENTS) == 19
    assert sorted(EVENT_HANDLERS) == sorted(RECOMMENDED_EVENTS)
    assert sorted(EVENT_HANDLERS) == sorted(ALERT_GROUPS)
    for event_type in RECOMMENDED_EVENTS:
        assert router.handlers_for(event_type) == [EVENT_HANDLERS[event_type]]
    assert router.handlers_for("customer.updated") == []


def test_registering_the_table_twice_is_an_error() -> None:
    router = EventRouter()
    register(router)
    with pytest.raises(ValueError, match="registered already"):
        register(router)


def test_a_table_naming_a_type_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"refund\.created has two handlers"):
        event_table(
            [("refund.created", refund_changed), ("refund.created", send_alert)]
        )


def test_the_table_cannot_be_rewritten_by_another_module() -> None:
    with pytest.raises(TypeError):
        EVENT_HANDLERS["charge.succeeded"] = refund_changed  # type: ignore[index]
