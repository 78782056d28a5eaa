"""Payments (a PaymentIntent and the charge that paid) and their disputes.

Every call goes through `bot.stripe_api.call`; a missing object is None.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

import stripe

from bot import stripe_shapes as shapes
from bot.connect import on_account
from bot.deps import Deps
from bot.stripe_api import call
from bot.stripe_lookup.records import DisputeInfo, Payment
from bot.stripe_shapes import as_dict, as_int, as_str, expandable_id, plain_dict


def _missing(exc: stripe.StripeError) -> bool:
    return (
        isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing"
    )


async def fetch_or_none(
    deps: Deps, operation: str, request: Awaitable[Any]
) -> dict[str, Any] | None:
    """The object, or None when Stripe has no such object; other errors raise."""
    try:
        return plain_dict(await call(deps.metrics, operation, request))
    except stripe.StripeError as exc:
        if _missing(exc):
            return None
        raise


def customer_label(customer: dict[str, Any], billing: dict[str, Any]) -> str | None:
    """ "Name <email>" from the customer, else from the payment's billing details."""
    name = as_str(customer.get("name")) or as_str(billing.get("name"))
    email = as_str(customer.get("email")) or as_str(billing.get("email"))
    if name and email:
        return f"{name} <{email}>"
    return name or email


def dispute_from(obj: dict[str, Any]) -> DisputeInfo:
    status = as_str(obj.get("status")) or "unknown"
    refundable = obj.get("is_charge_refundable")
    return DisputeInfo(
        id=as_str(obj.get("id")) or "",
        charge_id=expandable_id(obj.get("charge")),
        amount=as_int(obj.get("amount")) or 0,
        currency=as_str(obj.get("currency")) or "usd",
        reason=as_str(obj.get("reason")),
        status=status,
        due_by=shapes.dispute_due_by(obj),
        is_charge_refundable=(
            refundable if isinstance(refundable, bool) else status.startswith("warn")
        ),
    )


def payment_from_charge(
    charge: dict[str, Any], *, payment_intent: dict[str, Any] | None = None
) -> Payment:
    pi = payment_intent or as_dict(charge.get("payment_intent"))
    amount = as_int(charge.get("amount")) or 0
    captured = charge.get("captured") is not False
    captured_amount = as_int(charge.get("amount_captured"))
    status = as_str(pi.get("status")) or as_str(charge.get("status")) or "unknown"
    return Payment(
        id=expandable_id(charge.get("payment_intent"))
        or as_str(charge.get("id"))
        or "",
        charge_id=as_str(charge.get("id")),
        payment_intent_id=expandable_id(charge.get("payment_intent")),
        customer_id=expandable_id(charge.get("customer")),
        customer_label=customer_label(
            as_dict(charge.get("customer")), as_dict(charge.get("billing_details"))
        ),
        amount=amount,
        # Older API versions have no amount_captured: a captured charge took all.
        amount_captured=captured_amount if captured_amount is not None else amount,
        amount_refunded=as_int(charge.get("amount_refunded")) or 0,
        currency=as_str(charge.get("currency")) or "usd",
        status=status,
        captured=captured,
        disputed=charge.get("disputed") is True,
        created=as_int(charge.get("created")) or 0,
        livemode=charge.get("livemode") is True,
        description=as_str(charge.get("description")),
    )


def payment_from_intent(pi: dict[str, Any]) -> Payment:
    # `latest_charge` (expanded), or `charges.data[0]` before 2022-08-01.
    charge = as_dict(shapes.intent_charge(pi))
    if charge:
        # The charge says what was paid and refunded; the intent whose it is.
        payment = payment_from_charge(
            {**charge, "payment_intent": pi.get("id")}, payment_intent=pi
        )
        return replace(
            payment,
            customer_id=expandable_id(pi.get("customer")) or payment.customer_id,
            customer_label=customer_label(
                as_dict(pi.get("customer")), as_dict(charge.get("billing_details"))
            ),
            description=as_str(pi.get("description")) or payment.description,
        )
    return Payment(
        id=as_str(pi.get("id")) or "",
        charge_id=None,
        payment_intent_id=as_str(pi.get("id")),
        customer_id=expandable_id(pi.get("customer")),
        customer_label=customer_label(as_dict(pi.get("customer")), {}),
        amount=as_int(pi.get("amount")) or 0,
        amount_captured=as_int(pi.get("amount_received")) or 0,
        amount_refunded=0,
        currency=as_str(pi.get("currency")) or "usd",
        status=as_str(pi.get("status")) or "unknown",
        captured=False,
        disputed=False,
        created=as_int(pi.get("created")) or 0,
        livemode=pi.get("livemode") is True,
        description=as_str(pi.get("description")),
    )


async def fetch_disputes(
    deps: Deps, charge_id: str, *, account: str | None = None
) -> tuple[DisputeInfo, ...]:
    page = await call(
        deps.metrics,
        "disputes.list",
        deps.stripe.v1.disputes.list_async(
            {"charge": charge_id, "limit": 10}, on_account(account)
        ),
    )
    return tuple(dispute_from(plain_dict(d)) for d in page.data)


async def fetch_payment(
    deps: Deps,
    payment_id: str,
    *,
    with_customer: bool = True,
    account: str | None = None,
) -> Payment | None:
    """A pi_ or ch_ with its charge, customer and (if disputed) its disputes;
    `account`: the connected account it lives in (Connect)."""
    v1 = deps.stripe.v1
    options = on_account(account)
    customer = ["customer"] if with_customer else []
    if payment_id.startswith("pi_"):
        obj = await fetch_or_none(
            deps,
            "payment_intents.retrieve",
            v1.payment_intents.retrieve_async(
                payment_id, {"expand": ["latest_charge", *customer]}, options
            ),
        )
        payment = payment_from_intent(obj) if obj else None
    else:
        obj = await fetch_or_none(
            deps,
            "charges.retrieve",
            v1.charges.retrieve_async(
                payment_id, {"expand": customer} if customer else None, options
            ),
        )
        payment = payment_from_charge(obj) if obj else None
    if payment is not None and payment.disputed and payment.charge_id:
        disputes = await fetch_disputes(deps, payment.charge_id, account=account)
        payment = replace(payment, disputes=disputes)
    return payment
