"""`/stripe refund(s)`: the refunds of a payment, and finding one of ours."""

from __future__ import annotations

from typing import Any

from stripe.params import RefundListParams

from bot.connect import on_account
from bot.deps import Deps
from bot.stripe_api import call
from bot.stripe_lookup.payments import fetch_or_none, fetch_payment
from bot.stripe_lookup.query import Query
from bot.stripe_lookup.records import RefundInfo, RefundsLookup
from bot.stripe_shapes import as_dict, as_int, as_str, expandable_id, plain_dict

REFUNDS_SHOWN = 100


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


async def refunds_lookup(
    deps: Deps, query: Query, *, account: str | None = None
) -> RefundsLookup | None:
    """Refunds of a payment (pi_/ch_) or one refund (re_); None if not found.
    `account`: the connected account they live in (Connect)."""
    v1 = deps.stripe.v1
    options = on_account(account)
    if query.kind == "refund":
        refund = await fetch_or_none(
            deps,
            "refunds.retrieve",
            v1.refunds.retrieve_async(query.value, None, options),
        )
        if refund is None:
            return None
        return RefundsLookup(query, [refund_from(refund)], None, more=False)
    payment = await fetch_payment(deps, query.value, account=account)
    if payment is None:
        return None
    if payment.charge_id is None:
        return RefundsLookup(query, [], payment, more=False)
    page = await call(
        deps.metrics,
        "refunds.list",
        v1.refunds.list_async(
            {"charge": payment.charge_id, "limit": REFUNDS_SHOWN}, options
        ),
    )
    refunds = [refund_from(plain_dict(r)) for r in page.data]
    return RefundsLookup(query, refunds, payment, more=bool(page.has_more))


async def find_refund_by_metadata(
    deps: Deps,
    *,
    charge_id: str,
    key: str,
    value: str,
    account: str | None = None,
) -> RefundInfo | None:
    """A refund on the charge whose metadata[key] is value (newest first)."""
    params: RefundListParams = {"charge": charge_id, "limit": REFUNDS_SHOWN}
    options = on_account(account)
    while True:
        page = await call(
            deps.metrics,
            "refunds.list",
            deps.stripe.v1.refunds.list_async(params, options),
        )
        refunds = [refund_from(plain_dict(r)) for r in page.data]
        for refund in refunds:
            if refund.metadata.get(key) == value:
                return refund
        if not page.has_more or not refunds:
            return None
        params = {**params, "starting_after": refunds[-1].id}
