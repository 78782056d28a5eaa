"""Reading customers, payments, disputes and refunds from Stripe.

Shared by `/stripe customer`, `/stripe refund` and `/stripe refunds`. Every call
goes through `bot.stripe_api.call`; objects come back as small frozen records
so that Block Kit builders and checks never touch a live StripeObject.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import stripe
from stripe.params import RefundListParams

from bot import stripe_shapes as shapes
from bot.deps import Deps
from bot.stripe_api import call
from bot.stripe_shapes import as_dict, as_int, as_str, expandable_id, plain_dict

# Open disputes still need (or await) an answer; inquiries are `warning_*`.
OPEN_DISPUTE_STATUSES = frozenset(
    {"needs_response", "warning_needs_response", "under_review", "warning_under_review"}
)

CUSTOMERS_SHOWN = 5
PAYMENTS_SHOWN = 10
PAYMENT_METHODS_SHOWN = 20
REFUNDS_SHOWN = 100

_ID = r"[A-Za-z0-9]+"
_EMAIL = re.compile(r"[^@\s<>|]+@[^@\s<>|]+\.[^@\s<>|]+")
# Slack may send an email it auto-linked as <mailto:a@b.c|a@b.c>.
_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")

LookupKind = Literal["email", "customer", "payment_intent", "charge", "refund"]
_PREFIXES: dict[str, LookupKind] = {
    "cus_": "customer",
    "pi_": "payment_intent",
    "ch_": "charge",
    "re_": "refund",
}


@dataclass(frozen=True)
class Query:
    kind: LookupKind
    value: str


def parse_query(text: str, *, allowed: frozenset[LookupKind]) -> Query | None:
    """What a person typed, as an ID or email of an allowed kind; None if neither."""
    raw = text.strip()
    mailto = _MAILTO.fullmatch(raw)
    if mailto:
        raw = mailto.group(1)
    # Slack sends &, < and > in command text as entities: ask Stripe for
    # what was typed.
    raw = raw.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    for prefix, kind in _PREFIXES.items():
        if raw.startswith(prefix):
            if kind in allowed and re.fullmatch(re.escape(prefix) + _ID, raw):
                return Query(kind, raw)
            return None
    if "email" in allowed and _EMAIL.fullmatch(raw):
        return Query("email", raw)
    return None


# -- records -------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentMethodInfo:
    id: str
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    is_default: bool


@dataclass(frozen=True)
class DisputeInfo:
    id: str
    charge_id: str | None
    amount: int
    currency: str
    reason: str | None
    status: str
    due_by: int | None
    is_charge_refundable: bool

    @property
    def open(self) -> bool:
        return self.status in OPEN_DISPUTE_STATUSES


@dataclass(frozen=True)
class Payment:
    """A payment as support sees it: its PaymentIntent and the charge that paid."""

    id: str  # the PaymentIntent when there is one, else the charge
    charge_id: str | None
    payment_intent_id: str | None
    customer_id: str | None
    customer_label: str | None
    amount: int
    amount_captured: int
    amount_refunded: int
    currency: str
    status: str
    captured: bool
    disputed: bool
    created: int
    livemode: bool
    description: str | None = None
    disputes: tuple[DisputeInfo, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded" and self.charge_id is not None

    @property
    def remaining(self) -> int:
        """Minor units still refundable (0 for a payment that did not succeed)."""
        if not self.succeeded or not self.captured:
            return 0
        return max(self.amount_captured - self.amount_refunded, 0)

    @property
    def blocking_dispute(self) -> DisputeInfo | None:
        """A chargeback that forbids refunds; inquiries still allow them."""
        for dispute in self.disputes:
            if not dispute.is_charge_refundable:
                return dispute
        return None


@dataclass(frozen=True)
class CustomerInfo:
    id: str
    name: str | None
    email: str | None
    created: int
    livemode: bool
    deleted: bool = False


@dataclass(frozen=True)
class CustomerView:
    customer: CustomerInfo
    payment_methods: list[PaymentMethodInfo]
    payments: list[Payment]
    more_payments: bool
    disputes: list[DisputeInfo]


@dataclass(frozen=True)
class Lookup:
    query: Query
    customers: list[CustomerView] = field(default_factory=list)
    more_customers: bool = False
    # A payment asked for by ID: shown even when it has no customer.
    payment: Payment | None = None

    @property
    def empty(self) -> bool:
        return not self.customers and self.payment is None


@dataclass(frozen=True)
class RefundInfo:
    id: str
    amount: int
    currency: str
    status: str
    reason: str | None
    created: int
    charge_id: str | None
    payment_intent_id: str | None
    failure_reason: str | None
    destination_type: str | None
    reference: str | None
    reference_status: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class RefundsLookup:
    query: Query
    refunds: list[RefundInfo]
    payment: Payment | None
    more: bool


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


def refund_from(obj: dict[str, Any]) -> RefundInfo:
    destination = as_dict(obj.get("destination_details"))
    dest_type = as_str(destination.get("type"))
    card = as_dict(destination.get(dest_type or "card"))
    metadata = {str(k): str(v) for k, v in as_dict(obj.get("metadata")).items()}
    return RefundInfo(
        id=as_str(obj.get("id")) or "",
        amount=as_int(obj.get("amount")) or 0,
        currency=as_str(obj.get("currency")) or "usd",
        status=as_str(obj.get("status")) or "unknown",
        reason=as_str(obj.get("reason")),
        created=as_int(obj.get("created")) or 0,
        charge_id=expandable_id(obj.get("charge")),
        payment_intent_id=expandable_id(obj.get("payment_intent")),
        failure_reason=as_str(obj.get("failure_reason")),
        destination_type=dest_type,
        reference=as_str(card.get("reference")),
        reference_status=as_str(card.get("reference_status")),
        metadata=metadata,
    )


def _missing(exc: stripe.StripeError) -> bool:
    return (
        isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing"
    )


async def _or_none(
    deps: Deps, operation: str, request: Awaitable[Any]
) -> dict[str, Any] | None:
    """The object, or None when Stripe has no such object; other errors raise."""
    try:
        return plain_dict(await call(deps.metrics, operation, request))
    except stripe.StripeError as exc:
        if _missing(exc):
            return None
        raise


# -- payments ------------------------------------------------------------------


async def fetch_disputes(deps: Deps, charge_id: str) -> tuple[DisputeInfo, ...]:
    page = await call(
        deps.metrics,
        "disputes.list",
        deps.stripe.v1.disputes.list_async({"charge": charge_id, "limit": 10}),
    )
    return tuple(dispute_from(plain_dict(d)) for d in page.data)


async def fetch_payment(
    deps: Deps, payment_id: str, *, with_customer: bool = True
) -> Payment | None:
    """A pi_ or ch_ with its charge, customer and (if disputed) its disputes."""
    v1 = deps.stripe.v1
    customer = ["customer"] if with_customer else []
    if payment_id.startswith("pi_"):
        obj = await _or_none(
            deps,
            "payment_intents.retrieve",
            v1.payment_intents.retrieve_async(
                payment_id, {"expand": ["latest_charge", *customer]}
            ),
        )
        payment = payment_from_intent(obj) if obj else None
    else:
        obj = await _or_none(
            deps,
            "charges.retrieve",
            v1.charges.retrieve_async(
                payment_id, {"expand": customer} if customer else None
            ),
        )
        payment = payment_from_charge(obj) if obj else None
    if payment is not None and payment.disputed and payment.charge_id:
        disputes = await fetch_disputes(deps, payment.charge_id)
        payment = replace(payment, disputes=disputes)
    return payment


# -- customers -----------------------------------------------------------------


def _customer(obj: dict[str, Any]) -> CustomerInfo:
    return CustomerInfo(
        id=as_str(obj.get("id")) or "",
        name=as_str(obj.get("name")),
        email=as_str(obj.get("email")),
        created=as_int(obj.get("created")) or 0,
        livemode=obj.get("livemode") is True,
        deleted=obj.get("deleted") is True,
    )


def _payment_method(obj: dict[str, Any], default_id: str | None) -> PaymentMethodInfo:
    kind = as_str(obj.get("type")) or "unknown"
    details = as_dict(obj.get(kind))
    return PaymentMethodInfo(
        id=as_str(obj.get("id")) or "",
        type=kind,
        brand=as_str(details.get("display_brand")) or as_str(details.get("brand")),
        last4=as_str(details.get("last4")),
        exp_month=as_int(details.get("exp_month")),
        exp_year=as_int(details.get("exp_year")),
        is_default=default_id is not None and obj.get("id") == default_id,
    )


async def _customer_view(
    deps: Deps, customer: dict[str, Any], *, highlight: Payment | None = None
) -> CustomerView:
    v1 = deps.stripe.v1
    info = _customer(customer)
    if info.deleted:
        return CustomerView(info, [], [], False, [])
    default_id = expandable_id(
        as_dict(customer.get("invoice_settings")).get("default_payment_method")
    )
    methods_page, charges_page = await asyncio.gather(
        call(
            deps.metrics,
            "customers.payment_methods.list",
            v1.customers.payment_methods.list_async(
                info.id, {"limit": PAYMENT_METHODS_SHOWN}
            ),
        ),
        call(
            deps.metrics,
            "charges.list",
            v1.charges.list_async({"customer": info.id, "limit": PAYMENTS_SHOWN}),
        ),
    )
    methods = [_payment_method(plain_dict(pm), default_id) for pm in methods_page.data]
    payments = [payment_from_charge(plain_dict(ch)) for ch in charges_page.data]
    if highlight is not None and all(
        p.charge_id != highlight.charge_id for p in payments
    ):
        payments.insert(0, highlight)
    disputed = [p for p in payments if p.disputed and p.charge_id]
    found = await asyncio.gather(
        *(fetch_disputes(deps, p.charge_id) for p in disputed if p.charge_id)
    )
    by_charge = {p.charge_id: d for p, d in zip(disputed, found, strict=True)}
    payments = [
        replace(p, disputes=by_charge[p.charge_id]) if p.charge_id in by_charge else p
        for p in payments
    ]
    disputes = [d for ds in found for d in ds if d.open]
    return CustomerView(
        customer=info,
        payment_methods=methods,
        payments=payments,
        more_payments=bool(charges_page.has_more),
        disputes=disputes,
    )


async def customer_lookup(deps: Deps, query: Query) -> Lookup:
    """Everything `/stripe customer` shows; an empty Lookup when nothing matches."""
    v1 = deps.stripe.v1
    if query.kind == "email":
        page = await call(
            deps.metrics,
            "customers.list",
            v1.customers.list_async({"email": query.value, "limit": CUSTOMERS_SHOWN}),
        )
        views = await asyncio.gather(
            *(_customer_view(deps, plain_dict(c)) for c in page.data)
        )
        return Lookup(query, list(views), more_customers=bool(page.has_more))
    if query.kind == "customer":
        customer = await _or_none(
            deps, "customers.retrieve", v1.customers.retrieve_async(query.value)
        )
        if customer is None:
            return Lookup(query)
        return Lookup(query, [await _customer_view(deps, customer)])
    payment = await fetch_payment(deps, query.value)
    if payment is None:
        return Lookup(query)
    if payment.customer_id is None:
        return Lookup(query, payment=payment)
    customer = await _or_none(
        deps, "customers.retrieve", v1.customers.retrieve_async(payment.customer_id)
    )
    if customer is None:
        return Lookup(query, payment=payment)
    view = await _customer_view(deps, customer, highlight=payment)
    return Lookup(query, [view], payment=payment)


# -- refunds -------------------------------------------------------------------


async def refunds_lookup(deps: Deps, query: Query) -> RefundsLookup | None:
    """Refunds of a payment (pi_/ch_) or one refund (re_); None if not found."""
    v1 = deps.stripe.v1
    if query.kind == "refund":
        refund = await _or_none(
            deps, "refunds.retrieve", v1.refunds.retrieve_async(query.value)
        )
        if refund is None:
            return None
        return RefundsLookup(query, [refund_from(refund)], None, more=False)
    payment = await fetch_payment(deps, query.value)
    if payment is None:
        return None
    if payment.charge_id is None:
        return RefundsLookup(query, [], payment, more=False)
    page = await call(
        deps.metrics,
        "refunds.list",
        v1.refunds.list_async({"charge": payment.charge_id, "limit": REFUNDS_SHOWN}),
    )
    refunds = [refund_from(plain_dict(r)) for r in page.data]
    return RefundsLookup(query, refunds, payment, more=bool(page.has_more))


async def find_refund_by_metadata(
    deps: Deps, *, charge_id: str, key: str, value: str
) -> RefundInfo | None:
    """A refund on the charge whose metadata[key] is value (newest first)."""
    params: RefundListParams = {"charge": charge_id, "limit": REFUNDS_SHOWN}
    while True:
        page = await call(
            deps.metrics, "refunds.list", deps.stripe.v1.refunds.list_async(params)
        )
        refunds = [refund_from(plain_dict(r)) for r in page.data]
        for refund in refunds:
            if refund.metadata.get(key) == value:
                return refund
        if not page.has_more or not refunds:
            return None
        params = {**params, "starting_after": refunds[-1].id}
