"""The evidence fields Stripe takes on a dispute, and which ones each reason needs.

Depends on nothing else in the project: the domain (`bot.disputes`) and the
builders (`bot.blocks.dispute*`) both read it, so neither imports the other.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

EvidenceKind = Literal["text", "long", "file"]


@dataclass(frozen=True)
class EvidenceField:
    """One of Stripe's `evidence[...]` fields, as the modal asks for it."""

    name: str
    label: str
    kind: EvidenceKind
    hint: str | None = None

    @property
    def is_file(self) -> bool:
        return self.kind == "file"


# Each recommended field of a dispute's reason, and whether Stripe has it.
Checklist = Sequence[tuple[EvidenceField, bool]]


_FIELDS = (
    EvidenceField("customer_name", "Customer name", "text"),
    EvidenceField("customer_email_address", "Customer email", "text"),
    EvidenceField(
        "product_description",
        "Product or service description",
        "long",
        "What the customer bought, and when and how they got it.",
    ),
    EvidenceField("billing_address", "Billing address", "long"),
    EvidenceField("customer_purchase_ip", "Customer IP address at purchase", "text"),
    EvidenceField(
        "access_activity_log",
        "Access or usage log",
        "long",
        "Logins, downloads or use of the product by the customer, with IP "
        "addresses and times.",
    ),
    EvidenceField(
        "customer_communication",
        "Customer communication (file)",
        "file",
        "Emails or chats showing the customer received, used or was happy with "
        "what they bought.",
    ),
    EvidenceField("receipt", "Receipt (file)", "file"),
    EvidenceField("customer_signature", "Customer signature (file)", "file"),
    EvidenceField("shipping_carrier", "Shipping carrier", "text"),
    EvidenceField("shipping_tracking_number", "Tracking number", "text"),
    EvidenceField("shipping_date", "Shipping date", "text", "For example 2025-03-14."),
    EvidenceField("shipping_address", "Shipping address", "long"),
    EvidenceField(
        "shipping_documentation",
        "Proof of shipping or delivery (file)",
        "file",
        "A delivery confirmation or the carrier's tracking page.",
    ),
    EvidenceField("service_date", "Service date", "text"),
    EvidenceField("service_documentation", "Proof of service (file)", "file"),
    EvidenceField("refund_policy", "Refund policy (file)", "file"),
    EvidenceField(
        "refund_policy_disclosure",
        "How the refund policy was shown",
        "long",
        "Where and when the customer saw the refund policy before buying.",
    ),
    EvidenceField(
        "refund_refusal_explanation",
        "Why no refund is owed",
        "long",
    ),
    EvidenceField("cancellation_policy", "Cancellation policy (file)", "file"),
    EvidenceField(
        "cancellation_policy_disclosure",
        "How the cancellation policy was shown",
        "long",
    ),
    EvidenceField(
        "cancellation_rebuttal",
        "Why the subscription was not canceled",
        "long",
        "For example: the customer never asked to cancel, or kept using it.",
    ),
    EvidenceField(
        "duplicate_charge_id",
        "ID of the other charge",
        "text",
        "The earlier payment this one is said to duplicate (ch_…).",
    ),
    EvidenceField(
        "duplicate_charge_explanation",
        "Why the two charges are not duplicates",
        "long",
    ),
    EvidenceField(
        "duplicate_charge_documentation",
        "Proof the charges are separate (file)",
        "file",
    ),
    EvidenceField("uncategorized_text", "Anything else the bank should know", "long"),
    EvidenceField("uncategorized_file", "Other evidence (file)", "file"),
)
EVIDENCE_FIELDS: dict[str, EvidenceField] = {f.name: f for f in _FIELDS}
FILE_FIELDS = frozenset(f.name for f in _FIELDS if f.is_file)

# What Stripe's dispute categories guide asks for, per reason.
REASON_FIELDS: dict[str, tuple[str, ...]] = {
    "fraudulent": (
        "billing_address",
        "customer_purchase_ip",
        "access_activity_log",
        "customer_communication",
        "receipt",
        "customer_signature",
    ),
    "unrecognized": (
        "billing_address",
        "customer_purchase_ip",
        "access_activity_log",
        "customer_communication",
        "receipt",
    ),
    "product_not_received": (
        "shipping_carrier",
        "shipping_tracking_number",
        "shipping_date",
        "shipping_address",
        "shipping_documentation",
        "customer_communication",
    ),
    "product_unacceptable": (
        "refund_policy",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "customer_communication",
        "service_documentation",
    ),
    "credit_not_processed": (
        "refund_policy",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "customer_communication",
    ),
    "subscription_canceled": (
        "cancellation_policy",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
        "customer_communication",
    ),
    "duplicate": (
        "duplicate_charge_id",
        "duplicate_charge_explanation",
        "duplicate_charge_documentation",
    ),
}
_OTHER_REASON_FIELDS = ("customer_communication", "receipt")


@functools.cache
def _recommended(reason: str) -> tuple[EvidenceField, ...]:
    names = ("product_description", *REASON_FIELDS.get(reason, _OTHER_REASON_FIELDS))
    return tuple(EVIDENCE_FIELDS[n] for n in dict.fromkeys(names))


def recommended_fields(reason: str) -> list[EvidenceField]:
    """The fields the checklist tracks for a dispute reason."""
    return list(_recommended(reason))


def modal_fields(reason: str) -> list[EvidenceField]:
    """What the evidence modal asks for: customer, the recommended, the rest."""
    names = (
        "customer_name",
        "customer_email_address",
        *(f.name for f in recommended_fields(reason)),
        "uncategorized_text",
        "uncategorized_file",
    )
    return [EVIDENCE_FIELDS[n] for n in dict.fromkeys(names)]


def checklist(
    reason: str, evidence: Mapping[str, Any]
) -> list[tuple[EvidenceField, bool]]:
    return [(f, bool(evidence.get(f.name))) for f in _recommended(reason)]


def missing(reason: str, evidence: Mapping[str, Any]) -> list[EvidenceField]:
    return [f for f in _recommended(reason) if not evidence.get(f.name)]
