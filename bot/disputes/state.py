"""Dispute rows from Stripe objects: whichever object is newest wins.

An event's object carries (event.created, event.id) as its version; an object
read from the API carries "now". `storage.disputes.upsert` keeps the newest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import stripe_shapes as shapes
from bot.evidence_fields import EVIDENCE_FIELDS
from bot.stripe_shapes import as_dict, as_int, as_str, expandable_id
from storage import disputes as store
from storage.disputes import Version
from storage.models import Dispute

CREATED_EVENT = "charge.dispute.created"
EVENT_TYPES = (
    CREATED_EVENT,
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)


plain = shapes.plain_dict


def customer_of(charge: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(customer ID, name, email) from a charge of any API version, its customer
    possibly expanded."""
    payer = shapes.charge_payer(charge)
    return expandable_id(charge.get("customer")), payer.name, payer.email


def dispute_id(obj: Mapping[str, Any]) -> str | None:
    """The dispute's ID; None for disputes from before dispute IDs (2014)."""
    return as_str(obj.get("id"))


def object_values(
    obj: Mapping[str, Any],
    *,
    account: str | None = None,
    account_name: str | None = None,
) -> dict[str, Any]:
    """Dispute columns from a Stripe dispute object (charge maybe expanded);
    `account`: the connected account it lives in, from the event or the
    lookup (a dispute object does not say)."""
    charge = obj.get("charge")
    charge_obj = as_dict(charge)
    # Endpoints pinned before 2014-12-08 get the deadline as `evidence_due_by`
    # and evidence as free text: `stripe_shapes` reads both shapes.
    state = shapes.dispute_evidence_state(obj)
    evidence = {
        key: expandable_id(value)
        for key, value in shapes.dispute_evidence(obj).items()
        if key in EVIDENCE_FIELDS and expandable_id(value)
    }
    customer_id, name, email = (
        customer_of(charge_obj) if charge_obj else (None, None, None)
    )
    checked = {"customer_checked": True} if charge_obj else {}
    return {
        **checked,
        "id": str(obj["id"]),
        "charge_id": expandable_id(charge),
        "payment_intent_id": expandable_id(obj.get("payment_intent"))
        or expandable_id(charge_obj.get("payment_intent")),
        "amount": as_int(obj.get("amount")) or 0,
        "currency": (as_str(obj.get("currency")) or "").lower(),
        "reason": as_str(obj.get("reason")) or "general",
        "status": as_str(obj.get("status")) or "needs_response",
        # Stripe sends 0 (or nothing) when the bank allows no response.
        "due_by": shapes.dispute_due_by(obj),
        "livemode": obj.get("livemode") is True,
        "account": account,
        "account_name": account_name if account else None,
        "created": as_int(obj.get("created")) or 0,
        "submission_count": state.submission_count,
        "has_evidence": state.has_evidence,
        "stripe_evidence": evidence,
        "customer_id": customer_id,
        "customer_name": name,
        "customer_email": email,
    }


def transient_row(obj: Mapping[str, Any], *, now: float) -> Dispute:
    """A row built from an object alone, for rendering without the database."""
    return Dispute(**object_values(obj), updated_at=now)


def snapshot(now: float) -> Version:
    return Version(int(now))


@dataclass(frozen=True)
class Applied:
    row: Dispute
    created: bool
    changed: bool


async def apply_object(
    session: AsyncSession,
    obj: Mapping[str, Any],
    *,
    version: Version,
    now: float,
    account: str | None = None,
    account_name: str | None = None,
) -> Applied:
    """Take the object unless the row already holds a newer one."""
    values = object_values(obj, account=account, account_name=account_name)
    created, changed = await store.upsert(
        session, values=values, version=version, now=now
    )
    row = await store.get(session, dispute_id=values["id"])
    assert row is not None
    return Applied(row, created, changed)
