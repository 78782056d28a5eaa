"""Reading Stripe objects of any API version.

A webhook endpoint is pinned to its own API version, older or newer than the
SDK's, so one field may sit in different places: each reader here tries the
newest shape first, then the older ones, and returns None when none is there.
Nothing here raises on a missing or oddly typed field: a newer version may add,
remove or reshape any of them.

Shapes and the versions that changed them (docs.stripe.com/changelog):
- dispute deadline: `evidence_details.due_by`; before 2014-12-08 top-level
  `evidence_due_by`, with `evidence` as free text.
- dispute network reason code: `payment_method_details.card.network_reason_code`;
  on older objects `network_reason_code` on the dispute.
- charge card: `payment_method_details.card`; before 2019 only in `source` (a
  card, or a Source whose `card` holds it); before 2015-02-18 in `card`.
- PaymentIntent charge: `latest_charge`; before 2022-08-01 `charges.data[0]`.
- charge refunds: a list object's `data`; before 2014-05-19 a plain array; from
  2022-11-15 left out unless expanded.
- payout destination: `destination` (an ID or the expanded object); payouts
  shaped as transfers (before 2017-04-06) name it in `bank_account` or `card`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def expandable_id(value: object) -> str | None:
    """The ID of an expandable field, whether it holds an ID or an object."""
    if isinstance(value, dict):
        return as_str(value.get("id"))
    return as_str(value)


def plain_dict(obj: object) -> dict[str, Any]:
    """A StripeObject the SDK returned as a plain dict (a dict stays as it is;
    anything else is empty)."""
    to_dict = getattr(obj, "to_dict", None)
    data = to_dict() if callable(to_dict) else obj
    return data if isinstance(data, dict) else {}


def list_items(value: object) -> list[Any]:
    """The items of a list object (`{"object": "list", "data": [...]}`) or of
    a plain array, as older versions sent some lists."""
    if isinstance(value, list):
        return value
    data = as_dict(value).get("data")
    return data if isinstance(data, list) else []


# -- events ------------------------------------------------------------------------


def event_object(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event's `data.object`; empty for a thin event (a newer API version
    sends none) or a malformed one."""
    return as_dict(as_dict(event.get("data")).get("object"))


# A Connect account ID as Stripe makes them; anything else is never sent as
# `Stripe-Account` nor put into a Dashboard URL.
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,64}")


def is_account_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and ACCOUNT_ID.fullmatch(value) is not None


def event_account(event: Mapping[str, Any]) -> str | None:
    """The connected account a Connect event comes from; None for the
    platform's own events (or an `account` that is no account ID)."""
    account = event.get("account")
    return account if is_account_id(account) else None


def event_previous_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """What an `*.updated` event's object held before the change."""
    return as_dict(as_dict(event.get("data")).get("previous_attributes"))


# -- disputes ----------------------------------------------------------------------

# Dispute statuses; `warning_*` are inquiries (no chargeback yet).
DISPUTE_NEEDS_RESPONSE = frozenset({"needs_response", "warning_needs_response"})
DISPUTE_UNDER_REVIEW = frozenset({"under_review", "warning_under_review"})
DISPUTE_CLOSED = frozenset({"won", "lost", "warning_closed", "prevented"})


def dispute_due_by(dispute: Mapping[str, Any]) -> int | None:
    """When evidence is due; None when the bank allows no response (Stripe
    sends 0 or null for that)."""
    details = as_dict(dispute.get("evidence_details"))
    due_by = as_int(details.get("due_by"))
    if due_by is None and "due_by" not in details:
        due_by = as_int(dispute.get("evidence_due_by"))
    return due_by or None


def dispute_evidence(dispute: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence hash; free-text evidence of old versions as the field that
    holds free text today."""
    evidence = dispute.get("evidence")
    if isinstance(evidence, str):
        return {"uncategorized_text": evidence} if evidence else {}
    return as_dict(evidence)


@dataclass(frozen=True)
class EvidenceState:
    submission_count: int
    has_evidence: bool


def dispute_evidence_state(dispute: Mapping[str, Any]) -> EvidenceState:
    details = dispute.get("evidence_details")
    if isinstance(details, dict):
        return EvidenceState(
            submission_count=as_int(details.get("submission_count")) or 0,
            has_evidence=details.get("has_evidence") is True,
        )
    # Before 2014-12-08 there were no details: text in `evidence` is all we know.
    return EvidenceState(
        submission_count=0, has_evidence=bool(dispute_evidence(dispute))
    )


def dispute_network_reason_code(dispute: Mapping[str, Any]) -> str | None:
    card = as_dict(as_dict(dispute.get("payment_method_details")).get("card"))
    return as_str(card.get("network_reason_code")) or as_str(
        dispute.get("network_reason_code")
    )


# -- charges and PaymentIntents -------------------------------------------------------


@dataclass(frozen=True)
class Card:
    brand: str
    last4: str


def _card_of(obj: Mapping[str, Any]) -> Card | None:
    brand, last4 = as_str(obj.get("brand")), as_str(obj.get("last4"))
    return Card(brand, last4) if brand and last4 else None


def charge_card(charge: Mapping[str, Any]) -> Card | None:
    """The card a charge was paid with, wherever its version keeps it."""
    details = as_dict(charge.get("payment_method_details"))
    kind = as_str(details.get("type")) or "card"
    for method in (details.get("card"), details.get(kind)):
        card = _card_of(as_dict(method))
        if card:
            return card
    source = as_dict(charge.get("source"))
    return (
        _card_of(source)
        or _card_of(as_dict(source.get("card")))
        or _card_of(as_dict(charge.get("card")))
    )


def payment_method_card(payment_method: object) -> Card | None:
    """The card of an expanded PaymentMethod (or of an old-style card/Source)."""
    method = as_dict(payment_method)
    return _card_of(as_dict(method.get("card"))) or _card_of(method)


@dataclass(frozen=True)
class Payer:
    name: str | None
    email: str | None


def charge_payer(charge: Mapping[str, Any]) -> Payer:
    """Who paid: billing details, else the cardholder on an old card or Source,
    else the receipt email or the expanded customer."""
    billing = as_dict(charge.get("billing_details"))
    source = as_dict(charge.get("source"))
    owner = as_dict(source.get("owner"))
    old_card = as_dict(charge.get("card"))
    customer = as_dict(charge.get("customer"))
    name = (
        as_str(billing.get("name"))
        or as_str(owner.get("name"))
        or as_str(source.get("name"))
        or as_str(old_card.get("name"))
        or as_str(customer.get("name"))
    )
    email = (
        as_str(billing.get("email"))
        or as_str(charge.get("receipt_email"))
        or as_str(owner.get("email"))
        or as_str(customer.get("email"))
    )
    return Payer(name, email)


def intent_charge(payment_intent: Mapping[str, Any]) -> object:
    """The PaymentIntent's latest charge, an ID or an object (None if none)."""
    latest = payment_intent.get("latest_charge")
    if expandable_id(latest):
        return latest
    # Before 2022-08-01: every charge in `charges`, newest first.
    for charge in list_items(payment_intent.get("charges")):
        if expandable_id(charge):
            return charge
    return None


def charge_refund_ids(charge: Mapping[str, Any]) -> list[str]:
    """IDs of the refunds the charge lists (none from 2022-11-15 unless
    expanded)."""
    return [
        refund_id
        for refund in list_items(charge.get("refunds"))
        if (refund_id := expandable_id(refund))
    ]


# -- payouts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    id: str | None
    label: str | None  # "BANK NAME •••• 6789" when the account came expanded


def payout_destination(payout: Mapping[str, Any]) -> Destination:
    for key in ("destination", "bank_account", "card"):
        value = payout.get(key)
        if not expandable_id(value):
            continue
        account = as_dict(value)
        name = as_str(account.get("bank_name")) or as_str(account.get("brand"))
        last4 = as_str(account.get("last4"))
        label = f"{name} •••• {last4}" if name and last4 else None
        return Destination(expandable_id(value), label)
    return Destination(None, None)
