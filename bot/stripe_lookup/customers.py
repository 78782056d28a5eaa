"""`/stripe customer`: a customer with their PaymentMethods, payments and disputes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from bot.connect import on_account
from bot.deps import Deps
from bot.stripe_api import call
from bot.stripe_lookup.payments import (
    fetch_disputes,
    fetch_or_none,
    fetch_payment,
    payment_from_charge,
)
from bot.stripe_lookup.query import Query
from bot.stripe_lookup.records import (
    CustomerInfo,
    CustomerView,
    Lookup,
    Payment,
    PaymentMethodInfo,
)
from bot.stripe_shapes import as_dict, as_int, as_str, expandable_id, plain_dict

CUSTOMERS_SHOWN = 5
PAYMENTS_SHOWN = 10
PAYMENT_METHODS_SHOWN = 20


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
    deps: Deps,
    customer: dict[str, Any],
    *,
    highlight: Payment | None = None,
    account: str | None = None,
) -> CustomerView:
    v1 = deps.stripe.v1
    options = on_account(account)
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
                info.id, {"limit": PAYMENT_METHODS_SHOWN}, options
            ),
        ),
        call(
            deps.metrics,
            "charges.list",
            v1.charges.list_async(
                {"customer": info.id, "limit": PAYMENTS_SHOWN}, options
            ),
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
        *(
            fetch_disputes(deps, p.charge_id, account=account)
            for p in disputed
            if p.charge_id
        )
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


async def customer_lookup(
    deps: Deps, query: Query, *, account: str | None = None
) -> Lookup:
    """Everything `/stripe customer` shows; an empty Lookup when nothing matches.
    `account`: the connected account to look in (Connect)."""
    v1 = deps.stripe.v1
    options = on_account(account)
    if query.kind == "email":
        page = await call(
            deps.metrics,
            "customers.list",
            v1.customers.list_async(
                {"email": query.value, "limit": CUSTOMERS_SHOWN}, options
            ),
        )
        views = await asyncio.gather(
            *(_customer_view(deps, plain_dict(c), account=account) for c in page.data)
        )
        return Lookup(query, list(views), more_customers=bool(page.has_more))
    if query.kind == "customer":
        customer = await fetch_or_none(
            deps,
            "customers.retrieve",
            v1.customers.retrieve_async(query.value, None, options),
        )
        if customer is None:
            return Lookup(query)
        return Lookup(query, [await _customer_view(deps, customer, account=account)])
    payment = await fetch_payment(deps, query.value, account=account)
    if payment is None:
        return Lookup(query)
    if payment.customer_id is None:
        return Lookup(query, payment=payment)
    customer = await fetch_or_none(
        deps,
        "customers.retrieve",
        v1.customers.retrieve_async(payment.customer_id, None, options),
    )
    if customer is None:
        return Lookup(query, payment=payment)
    view = await _customer_view(deps, customer, highlight=payment, account=account)
    return Lookup(query, [view], payment=payment)
