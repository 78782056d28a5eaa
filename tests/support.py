"""Test helpers: Stripe objects and events, signed deliveries, settings."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import stripe
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.refunds import NewRefundRequest

WEBHOOK_SECRET = "whsec_test_secret_one"
WEBHOOK_SECRET_NEXT = "whsec_test_secret_two"
SIGNING_SECRET = "slack-signing-secret-for-tests"
BOT_TOKEN = "xoxb-test-token"
STRIPE_KEY = "sk_test_fake"

CHANNELS = {
    "ALERT_CHANNEL": "CALERTS",
    "PAYMENTS_CHANNEL": "CPAYMENTS",
    "REFUNDS_CHANNEL": "CREFUNDS",
    "PAYOUTS_CHANNEL": "CPAYOUTS",
    "DISPUTES_CHANNEL": "CDISPUTES",
    "APPROVALS_CHANNEL": "CAPPROVALS",
}

_seq = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_T{next(_seq):014d}"


def charge(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": new_id("ch"),
        "object": "charge",
        "amount": 2000,
        "amount_captured": 2000,
        "amount_refunded": 0,
        "currency": "usd",
        "customer": "cus_T1",
        "payment_intent": "pi_T1",
        "billing_details": {"name": "Jenny Rosen", "email": "jenny@example.com"},
        "created": int(time.time()),
        "disputed": False,
        "refunded": False,
        "failure_message": None,
        "livemode": False,
        "paid": True,
        "status": "succeeded",
    }
    obj.update(overrides)
    return obj


def payment_intent(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": new_id("pi"),
        "object": "payment_intent",
        "amount": 2000,
        "amount_received": 2000,
        "currency": "usd",
        "customer": "cus_T1",
        "latest_charge": "ch_T1",
        "created": int(time.time()),
        "last_payment_error": None,
        "livemode": False,
        "status": "succeeded",
    }
    obj.update(overrides)
    return obj


def refund(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": new_id("re"),
        "object": "refund",
        "amount": 500,
        "charge": "ch_T1",
        "payment_intent": "pi_T1",
        "currency": "usd",
        "created": int(time.time()),
        "reason": "requested_by_customer",
        "status": "succeeded",
        "failure_reason": None,
        "destination_details": {
            "type": "card",
            "card": {
                "reference": "74567890123456789012345",
                "reference_status": "available",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
        },
    }
    obj.update(overrides)
    return obj


def payout(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": new_id("po"),
        "object": "payout",
        "amount": 110000,
        "currency": "usd",
        "arrival_date": int(time.time()) + 86400,
        "created": int(time.time()),
        "status": "in_transit",
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
    }
    obj.update(overrides)
    return obj


def dispute(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    obj: dict[str, Any] = {
        "id": new_id("dp"),
        "object": "dispute",
        "amount": 2000,
        "charge": "ch_T1",
        "payment_intent": "pi_T1",
        "currency": "usd",
        "created": now,
        "reason": "product_not_received",
        "status": "needs_response",
        "evidence": {},
        "evidence_details": {
            "due_by": now + 7 * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
    }
    obj.update(overrides)
    return obj


def early_fraud_warning(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": new_id("issfr"),
        "object": "radar.early_fraud_warning",
        "actionable": True,
        "charge": "ch_T1",
        "payment_intent": "pi_T1",
        "created": int(time.time()),
        "fraud_type": "made_with_stolen_card",
        "livemode": False,
    }
    obj.update(overrides)
    return obj


# One realistic object per recommended event type.
OBJECT_FOR_TYPE: dict[str, Callable[[], dict[str, Any]]] = {
    "charge.succeeded": charge,
    "charge.failed": lambda: charge(status="failed", failure_message="Card declined"),
    "charge.refunded": lambda: charge(amount_refunded=2000, refunded=True),
    "refund.created": refund,
    "refund.updated": refund,
    "refund.failed": lambda: refund(
        status="failed", failure_reason="expired_or_canceled_card"
    ),
    "charge.refund.updated": refund,
    "payout.created": payout,
    "payout.paid": lambda: payout(status="paid"),
    "payout.failed": lambda: payout(status="failed", failure_message="Account closed"),
    "payment_intent.succeeded": payment_intent,
    "payment_intent.payment_failed": lambda: payment_intent(
        status="requires_payment_method",
        last_payment_error={"message": "Your card was declined."},
    ),
    "payment_intent.canceled": lambda: payment_intent(status="canceled"),
    "radar.early_fraud_warning.created": early_fraud_warning,
    "charge.dispute.created": dispute,
    "charge.dispute.updated": dispute,
    "charge.dispute.closed": lambda: dispute(status="lost"),
    "charge.dispute.funds_withdrawn": dispute,
    "charge.dispute.funds_reinstated": lambda: dispute(status="won"),
}

GROUP_CHANNEL = {
    "charge.succeeded": "CPAYMENTS",
    "charge.failed": "CPAYMENTS",
    "payment_intent.succeeded": "CPAYMENTS",
    "payment_intent.payment_failed": "CPAYMENTS",
    "payment_intent.canceled": "CPAYMENTS",
    "charge.refunded": "CREFUNDS",
    "refund.created": "CREFUNDS",
    "refund.updated": "CREFUNDS",
    "refund.failed": "CREFUNDS",
    "charge.refund.updated": "CREFUNDS",
    "payout.created": "CPAYOUTS",
    "payout.paid": "CPAYOUTS",
    "payout.failed": "CPAYOUTS",
    "radar.early_fraud_warning.created": "CDISPUTES",
    "charge.dispute.created": "CDISPUTES",
    "charge.dispute.updated": "CDISPUTES",
    "charge.dispute.closed": "CDISPUTES",
    "charge.dispute.funds_withdrawn": "CDISPUTES",
    "charge.dispute.funds_reinstated": "CDISPUTES",
}


def event(
    type: str,
    obj: dict[str, Any] | None = None,
    *,
    id: str | None = None,
    created: int | None = None,
    livemode: bool = False,
    previous_attributes: dict[str, Any] | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    if obj is None:
        obj = OBJECT_FOR_TYPE[type]()
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    connect = {"account": account} if account is not None else {}
    return {
        **connect,
        "id": id or new_id("evt"),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created if created is not None else int(time.time()),
        "data": data,
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


def signed(
    evt: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """A delivery as Stripe sends it, signed with stripe-python's own helper."""
    payload = json.dumps(evt)
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp
    )
    return payload.encode(), {
        "Stripe-Signature": header,
        "Content-Type": "application/json; charset=utf-8",
    }


def refund_request(**overrides: Any) -> NewRefundRequest:
    """What an agent asks for: 5.00 of a 20.00 USD payment, unless told."""
    fields: dict[str, Any] = {
        "payment_id": "pi_1",
        "charge_id": "ch_1",
        "payment_intent_id": "pi_1",
        "customer_id": None,
        "customer_label": None,
        "amount": 500,
        "currency": "usd",
        "payment_amount": 2000,
        "reason": None,
        "note": None,
        "livemode": False,
        "requested_by": "U_AGENT",
        "requested_in": None,
        "idempotency_key": "stripe-ops-refund-test",
    }
    return NewRefundRequest(**{**fields, **overrides})


@contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement sent through `engine` while the block runs."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    sync_engine = engine.sync_engine
    sa_event.listen(sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa_event.remove(sync_engine, "before_cursor_execute", count)
