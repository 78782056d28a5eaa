"""Stripe objects and events as endpoints pinned to older (or newer) API versions
receive them.

Our own compact builders, written after real payloads read in public sources;
each shape names where it was read (repository, path, commit). Nothing here is
copied from those files: IDs, amounts and names are ours.

Sources:
- OPENAPI: stripe/openapi, openapi/fixtures.json and openapi/fixtures3.json at
  f63de51376add619527ebda97639d117aab38f03 (2017-03-23),
  0231328004cf500ed187485abaa5027a8dda35ef (2020-01-13),
  08340647e0d0a5cfd532b2d7d9915512b2b29832 (2022-09-08),
  c3ead300321075b14169455f2d7aed11e253b1ba (2022-12-05) and HEAD
  235393f0423554604c904d853d9b4d62f4a33e9f (2026-05-23).
- DART: exitlive/stripe-dart, test/resources/dispute_tests.dart: a dispute of
  May 2014 with top-level `evidence_due_by`, `evidence: null` and no `id`.
- SCALA: farmdawgnation/streifen (package me.frmr.stripe), EventSpec.scala: a
  charge.succeeded event at api_version 2014-12-22 with the card in `card`.
- DJSTRIPE: dj-stripe/dj-stripe at f04d5d7e9af894dba93aa727d68619966764c6ac,
  tests/fixtures/payment_intent_pi_fakefakefakefakefake0001.json (a PaymentIntent
  with `charges.data[0]`) and tests/__init__.py (dispute events 2017-08-15 and
  2020-08-27).
- Changelog: docs.stripe.com/changelog/2014-12-08 (evidence_due_by ->
  evidence_details.due_by, evidence text -> hash), 2015-02-18 (charge `card` ->
  `source`), 2022-08-01 (PaymentIntent `charges` -> `latest_charge`),
  2022-11-15 (charge `refunds` no longer included).
"""

from __future__ import annotations

import copy
from typing import Any

Json = dict[str, Any]

# What each era's objects look like; the value is the `api_version` its events carry.
OLD_CARD = "2014-12-22"  # charge.card (SCALA)
OLD_REFUND_ARRAY = "2014-03-28"  # charge.refunds as a plain array
OLD_DISPUTE = "2014-11-05"  # dispute.evidence_due_by (DART, changelog 2014-12-08)
SOURCE = "2017-08-15"  # charge.source (OPENAPI 2017-03-23)
PI_CHARGES = "2020-08-27"  # payment_intent.charges (OPENAPI 2020-01-13, DJSTRIPE)
LATEST = "2024-06-20"  # latest_charge, payment_method_details (OPENAPI HEAD)
NO_REFUNDS = "2022-11-15"  # charge.refunds left out (OPENAPI 2022-12-05)
FUTURE = "2031-01-15.zucchini"  # a version newer than the SDK knows

CHARGE_ID = "ch_1VerTest000000000000001"
PI_ID = "pi_1VerTest000000000000001"
CUSTOMER_ID = "cus_VerTest00000001"


def envelope(
    event_type: str,
    obj: Json,
    *,
    api_version: str,
    created: int,
    previous: Json | None = None,
    livemode: bool = False,
    event_id: str | None = None,
) -> Json:
    """The event around an object. Before 2017-05-25 `request` was a string
    (or null), after it a hash (OPENAPI)."""
    data: Json = {"object": copy.deepcopy(obj)}
    if previous is not None:
        data["previous_attributes"] = copy.deepcopy(previous)
    request: Any = (
        "req_VerTest0001"
        if api_version < "2017-05-25"
        else {"id": "req_VerTest0001", "idempotency_key": None}
    )
    return {
        "id": event_id or f"evt_1VerTest{api_version[:10].replace('-', '')}{created}",
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": request,
        "type": event_type,
    }


# -- charges -------------------------------------------------------------------


def _card_hash(*, brand: str, last4: str, name: str | None) -> Json:
    """A card as `charge.card` (to 2015-02-18) and `charge.source` held it: the
    brand capitalised ("Visa"), the cardholder's name in `name` (SCALA, OPENAPI
    2017-03-23)."""
    return {
        "id": "card_1VerTest00000001",
        "object": "card",
        "brand": brand,
        "last4": last4,
        "exp_month": 12,
        "exp_year": 2030,
        "funding": "credit",
        "country": "US",
        "name": name,
        "address_line1_check": None,
        "address_zip_check": None,
        "cvc_check": "pass",
        "customer": CUSTOMER_ID,
        "dynamic_last4": None,
    }


def charge(era: str, *, created: int, **overrides: Any) -> Json:
    """A succeeded charge of 12.50 USD as an endpoint pinned to `era` sees it."""
    obj: Json = {
        "id": CHARGE_ID,
        "object": "charge",
        "amount": 1250,
        "amount_refunded": 0,
        "balance_transaction": "txn_1VerTest0001",
        "captured": True,
        "created": created,
        "currency": "usd",
        "customer": CUSTOMER_ID,
        "description": "Order 2001",
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "paid": True,
        "receipt_email": None,
        "refunded": False,
        "status": "succeeded",
    }
    refunds_list: Json = {
        "object": "list",
        "data": [],
        "has_more": False,
        "total_count": 0,
        "url": f"/v1/charges/{CHARGE_ID}/refunds",
    }
    if era < "2015-02-18":
        # SCALA: no source, no billing_details, no payment_intent, no outcome.
        obj["card"] = _card_hash(brand="Visa", last4="4242", name="Jenny Rosen")
        obj["refunds"] = [] if era < "2014-05-19" else refunds_list
    elif era < "2019-02-19":
        # OPENAPI 2017-03-23: the card in `source`; outcome, no payment_intent.
        obj["source"] = _card_hash(brand="Visa", last4="4242", name="Jenny Rosen")
        obj["refunds"] = refunds_list
        obj["outcome"] = {"type": "authorized", "seller_message": "Payment complete."}
    else:
        # DJSTRIPE charges.data[0], OPENAPI HEAD charge.
        obj["payment_intent"] = PI_ID
        obj["payment_method"] = "pm_1VerTest00000001"
        obj["amount_captured"] = 1250
        obj["billing_details"] = {
            "address": {"city": None, "country": None, "line1": None},
            "email": "jenny@example.com",
            "name": "Jenny Rosen",
            "phone": None,
        }
        obj["payment_method_details"] = {
            "type": "card",
            "card": {
                "brand": "visa",
                "last4": "4242",
                "exp_month": 12,
                "exp_year": 2030,
                "network": "visa",
                "funding": "credit",
            },
        }
        obj["outcome"] = {"type": "authorized", "seller_message": "Payment complete."}
        if era < NO_REFUNDS:
            obj["refunds"] = refunds_list
    obj.update(overrides)
    return obj


def refunded_charge(era: str, *, created: int) -> Json:
    """The charge of `charge.refunded` after a 5.00 USD refund.

    To 2014-05-19 `refunds` was an array of refunds; then a list object whose
    `data` held them (SCALA, OPENAPI 2017-03-23); from 2022-11-15 it is left out
    unless expanded (OPENAPI 2022-12-05 vs changelog).
    """
    obj = charge(era, created=created, amount_refunded=500)
    refund = {
        "id": "re_1VerTest00000001",
        "object": "refund",
        "amount": 500,
        "charge": CHARGE_ID,
        "created": created + 60,
        "currency": "usd",
        "status": "succeeded",
    }
    if isinstance(obj.get("refunds"), list):
        obj["refunds"] = [refund]
    elif isinstance(obj.get("refunds"), dict):
        obj["refunds"]["data"] = [refund]
        obj["refunds"]["total_count"] = 1
    return obj


def payment_intent(era: str, *, created: int, **overrides: Any) -> Json:
    """A succeeded PaymentIntent: its charge in `charges.data[0]` before
    2022-08-01 (OPENAPI 2020-01-13, DJSTRIPE), `latest_charge` after."""
    obj: Json = {
        "id": PI_ID,
        "object": "payment_intent",
        "amount": 1250,
        "amount_received": 1250,
        "capture_method": "automatic",
        "created": created,
        "currency": "usd",
        "customer": CUSTOMER_ID,
        "description": None,
        "last_payment_error": None,
        "livemode": False,
        "metadata": {},
        "payment_method": "pm_1VerTest00000001",
        "status": "succeeded",
    }
    the_charge = charge(LATEST, created=created)
    if era < "2022-08-01":
        obj["charges"] = {
            "object": "list",
            "data": [the_charge],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/charges?payment_intent={PI_ID}",
        }
    else:
        obj["latest_charge"] = CHARGE_ID
    obj.update(overrides)
    return obj


def failed_payment_intent(era: str, *, created: int) -> Json:
    """payment_intent.payment_failed: the failed charge is in `charges` (old) or
    `latest_charge` (new), and in `last_payment_error.charge` (OPENAPI)."""
    failed = charge(
        LATEST,
        created=created,
        status="failed",
        paid=False,
        failure_code="card_declined",
        failure_message="Your card was declined.",
    )
    error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
        "charge": CHARGE_ID,
        "payment_method": {
            "id": "pm_1VerTest00000001",
            "object": "payment_method",
            "type": "card",
            "billing_details": failed["billing_details"],
            "card": {"brand": "visa", "last4": "4242"},
        },
    }
    obj = payment_intent(
        era,
        created=created,
        status="requires_payment_method",
        amount_received=0,
        last_payment_error=error,
    )
    if "charges" in obj:
        obj["charges"]["data"] = [failed]
    return obj


# -- disputes --------------------------------------------------------------------

_EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "product_description",
    "receipt",
    "shipping_tracking_number",
    "uncategorized_text",
)


def evidence_hash(**values: str) -> Json:
    """`dispute.evidence` since 2014-12-08: every field, null when empty."""
    return {name: values.get(name) for name in _EVIDENCE_FIELDS}


def dispute(
    era: str,
    *,
    created: int,
    due_by: int | None,
    dispute_id: str | None = "dp_1VerTest00000001",
    **overrides: Any,
) -> Json:
    """A needs_response dispute of 12.50 USD.

    Before 2014-12-08 the deadline is top-level `evidence_due_by` and
    `evidence` is free text or null, with no `evidence_details` (DART,
    changelog); disputes from before dispute IDs have no `id` (DART). Until
    2017-02-14-era fixtures `network_reason_code` sat on the dispute itself
    (OPENAPI 2017-03-23); today it is in `payment_method_details.card`
    (OPENAPI HEAD).
    """
    obj: Json = {
        "object": "dispute",
        "amount": 1250,
        "charge": CHARGE_ID,
        "created": created,
        "currency": "usd",
        "livemode": False,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    if dispute_id is not None:
        obj["id"] = dispute_id
    if era < "2014-12-08":
        obj["balance_transaction"] = "txn_1VerTest0002"
        obj["evidence_due_by"] = due_by
        obj["evidence"] = None
    else:
        obj["balance_transactions"] = []
        obj["evidence"] = evidence_hash()
        obj["evidence_details"] = {
            "due_by": due_by,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        }
        obj["is_charge_refundable"] = False
        obj["metadata"] = {}
        if era < "2019-01-01":
            obj["network_reason_code"] = "4837"
        else:
            obj["payment_intent"] = PI_ID
            obj["payment_method_details"] = {
                "type": "card",
                "card": {"brand": "visa", "network_reason_code": "10.4"},
            }
    obj.update(overrides)
    return obj


# -- refunds, payouts, early fraud warnings -----------------------------------------


def refund(era: str, *, created: int, **overrides: Any) -> Json:
    """A refund: no `payment_intent` before PaymentIntents (OPENAPI 2017-03-23),
    `destination_details` with the ARN from 2023 (OPENAPI HEAD)."""
    obj: Json = {
        "id": "re_1VerTest00000001",
        "object": "refund",
        "amount": 500,
        "balance_transaction": "txn_1VerTest0003",
        "charge": CHARGE_ID,
        "created": created,
        "currency": "usd",
        "metadata": {},
        "reason": "requested_by_customer",
        "receipt_number": None,
        "status": "succeeded",
    }
    if era >= PI_CHARGES:
        obj["payment_intent"] = PI_ID
    if era >= "2023-08-16":
        obj["destination_details"] = {
            "type": "card",
            "card": {
                "reference": "74567890123456789012345",
                "reference_status": "available",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
        }
    obj.update(overrides)
    return obj


def payout(era: str, *, created: int, **overrides: Any) -> Json:
    """A payout of 1,100.00 USD to a bank account: `destination` holds the
    account's ID (OPENAPI 2020-01-13 and HEAD)."""
    obj: Json = {
        "id": "po_1VerTest00000001",
        "object": "payout",
        "amount": 110000,
        "arrival_date": created + 2 * 86400,
        "automatic": True,
        "balance_transaction": "txn_1VerTest0004",
        "created": created,
        "currency": "usd",
        "description": "STRIPE PAYOUT",
        "destination": "ba_1VerTest00000001",
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "source_type": "card",
        "statement_descriptor": None,
        "status": "in_transit",
        "type": "bank_account",
    }
    obj.update(overrides)
    return obj


def bank_account() -> Json:
    """A bank account object as an expanded `destination` or a transfer's
    `bank_account` hash shows it (DJSTRIPE tests/fixtures/bank_account_*.json)."""
    return {
        "id": "ba_1VerTest00000001",
        "object": "bank_account",
        "bank_name": "STRIPE TEST BANK",
        "country": "US",
        "currency": "usd",
        "last4": "6789",
        "routing_number": "110000000",
        "status": "new",
    }


def early_fraud_warning(era: str, *, created: int) -> Json:
    """An early fraud warning: `payment_intent` only on newer versions
    (OPENAPI 2020-01-13 has none, HEAD has it)."""
    obj: Json = {
        "id": "issfr_1VerTest0000001",
        "object": "radar.early_fraud_warning",
        "actionable": True,
        "charge": CHARGE_ID,
        "created": created,
        "fraud_type": "made_with_stolen_card",
        "livemode": False,
    }
    if era >= "2022-08-01":
        obj["payment_intent"] = PI_ID
    return obj
