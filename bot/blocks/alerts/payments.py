"""Alerts for charges and PaymentIntents."""

from __future__ import annotations

from typing import Any

from bot import stripe_shapes as shapes
from bot.blocks import Place, clip, one_line
from bot.blocks.alerts.draft import (
    FREE_TEXT_MAX,
    Draft,
    add_card,
    add_common_details,
    add_people,
    amount_text,
    as_words,
    failure_text,
    id_link,
)
from bot.stripe_shapes import as_dict, as_str, expandable_id


def draft_charge(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], where: Place, now: float
) -> Draft:
    charge_id = as_str(obj.get("id")) or "unknown charge"
    if event_type == "charge.refunded":
        fully = obj.get("refunded") is True
        draft = Draft(
            emoji=":leftwards_arrow_with_hook:",
            title="Payment fully refunded" if fully else "Payment partially refunded",
            kind="charge",
            object_id=charge_id,
            amount=amount_text(obj, "amount_refunded"),
        )
        draft.fact("Payment amount", amount_text(obj))
        refund_ids = shapes.charge_refund_ids(obj)
        draft.fact(
            "Refunds",
            " ".join(filter(None, (id_link(r, where) for r in refund_ids[:5]))),
        )
    elif event_type == "charge.failed":
        draft = Draft(":x:", "Payment failed", "charge", charge_id, amount_text(obj))
        outcome = as_dict(obj.get("outcome"))
        draft.detail(
            "Why it failed",
            failure_text(obj.get("failure_message"), obj.get("failure_code")),
        )
        seller_message = as_str(outcome.get("seller_message"))
        if seller_message:
            draft.detail("Stripe says", clip(one_line(seller_message), FREE_TEXT_MAX))
    else:
        draft = Draft(
            ":white_check_mark:",
            "Payment succeeded",
            "charge",
            charge_id,
            amount_text(obj),
        )
    draft.payment_intent_id = expandable_id(obj.get("payment_intent"))
    draft.fact("Status", as_words(obj.get("status")))
    add_people(draft, obj, where)
    add_card(draft, shapes.charge_card(obj))
    add_common_details(draft, obj)
    return draft


def draft_payment_intent(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], where: Place, now: float
) -> Draft:
    pi_id = as_str(obj.get("id")) or "unknown PaymentIntent"
    error = as_dict(obj.get("last_payment_error"))
    if event_type == "payment_intent.payment_failed":
        draft = Draft(":x:", "Payment failed", "PaymentIntent", pi_id, amount_text(obj))
        draft.detail(
            "Why it failed",
            failure_text(
                error.get("message"), error.get("decline_code") or error.get("code")
            ),
        )
    elif event_type == "payment_intent.canceled":
        draft = Draft(
            ":no_entry_sign:",
            "Payment canceled",
            "PaymentIntent",
            pi_id,
            amount_text(obj),
        )
        draft.fact("Cancellation reason", as_words(obj.get("cancellation_reason")))
    else:
        draft = Draft(
            ":white_check_mark:",
            "Payment succeeded",
            "PaymentIntent",
            pi_id,
            amount_text(obj),
        )
    # `latest_charge` since 2022-08-01, `charges.data[0]` before.
    latest_charge = shapes.intent_charge(obj)
    charge = as_dict(latest_charge)
    draft.charge_id = expandable_id(latest_charge) or expandable_id(error.get("charge"))
    draft.fact("Status", as_words(obj.get("status")))
    # Name, email and card live on the charge; use them when it came expanded,
    # else the failed attempt's PaymentMethod.
    method = as_dict(error.get("payment_method"))
    payer = charge or {"billing_details": method.get("billing_details")}
    people = {
        **payer,
        "customer": obj.get("customer"),
        "receipt_email": obj.get("receipt_email") or payer.get("receipt_email"),
    }
    add_people(draft, people, where)
    add_card(
        draft,
        shapes.charge_card(charge)
        or shapes.payment_method_card(method)
        or shapes.payment_method_card(error.get("source")),
    )
    add_common_details(draft, obj)
    return draft
