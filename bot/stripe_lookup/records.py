"""What lookups return: small frozen records, never a live StripeObject."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.stripe_lookup.query import Query
from bot.stripe_shapes import DISPUTE_NEEDS_RESPONSE, DISPUTE_UNDER_REVIEW

# Open disputes still need (or await) an answer; inquiries are `warning_*`.
OPEN_DISPUTE_STATUSES = DISPUTE_NEEDS_RESPONSE | DISPUTE_UNDER_REVIEW


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
