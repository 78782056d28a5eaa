"""Link previews: a Stripe Dashboard link pasted in Slack, read from Stripe.

`parse_link` recognises `dashboard.stripe.com` pages of payments, charges,
customers, disputes, refunds and payouts, with or without `/test/` and a
connected account's `/acct_…/`; `read_preview` asks Stripe for the object
(with `Stripe-Account` for a Connect link). Who may see a preview is the one
access check's business (`bot.access`), before any of this runs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import stripe

from bot.blocks.unfurls import Preview
from bot.deps import Deps
from bot.money import format_amount
from bot.stripe_api import call, describe_error
from bot.stripe_lookup.payments import (
    customer_label,
    payment_from_charge,
    payment_from_intent,
)
from bot.stripe_shapes import as_dict, as_int, as_str, dispute_due_by, plain_dict

log = logging.getLogger(__name__)

DASHBOARD_HOST = "dashboard.stripe.com"
# One message's links are read one after another; more than this many are
# left as Slack shows them.
MAX_LINKS = 5

_SECTIONS = frozenset(
    {"payments", "charges", "customers", "disputes", "refunds", "payouts"}
)
_ID = re.compile(r"(pi|ch|py|cus|dp|du|re|po)_[A-Za-z0-9]{1,250}")
_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]{1,250}")

KINDS = {
    "pi": "Payment",
    "ch": "Charge",
    "py": "Charge",
    "cus": "Customer",
    "dp": "Dispute",
    "du": "Dispute",
    "re": "Refund",
    "po": "Payout",
}


@dataclass(frozen=True)
class DashboardLink:
    url: str  # as pasted: the key of its unfurl
    object_id: str
    test: bool
    account: str | None

    @property
    def kind(self) -> str:
        return KINDS[self.object_id.split("_", 1)[0]]


def parse_link(url: str) -> DashboardLink | None:
    """The object a Dashboard URL shows, or None for any other page."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme != "https" or (parts.hostname or "").lower() != DASHBOARD_HOST:
        return None
    segments = [s for s in parts.path.split("/") if s]
    test, account = False, None
    # `/test/` and `/acct_…/` come before the section, in either order.
    while segments and (segments[0] == "test" or _ACCOUNT.fullmatch(segments[0])):
        head = segments.pop(0)
        if head == "test":
            test = True
        elif account is None:
            account = head
        else:
            return None
    if len(segments) != 2 or segments[0] not in _SECTIONS:
        return None
    if not _ID.fullmatch(segments[1]):
        return None
    return DashboardLink(url=url, object_id=segments[1], test=test, account=account)


Request = Callable[[list[str]], Awaitable[Any]]


async def _with_customer(
    expand: list[str], customer: str, request: Request
) -> dict[str, Any]:
    """Ask with the customer expanded too (`customer` is its path); a key
    without Customers: Read still gets the object itself."""
    try:
        return plain_dict(await request([*expand, customer]))
    except stripe.PermissionError:
        return plain_dict(await request(expand))


def _payment_preview(link: DashboardLink, obj: dict[str, Any]) -> Preview:
    payment = (
        payment_from_intent(obj)
        if link.object_id.startswith("pi_")
        else payment_from_charge(obj)
    )
    facts: list[tuple[str, str]] = []
    if payment.amount_refunded:
        facts.append(
            ("Refunded", format_amount(payment.amount_refunded, payment.currency))
        )
    if payment.disputed:
        facts.append(("Disputed", "yes"))
    if payment.description:
        facts.append(("Description", payment.description))
    return Preview(
        kind=link.kind,
        object_id=link.object_id,
        livemode=payment.livemode,
        account=link.account,
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        customer=payment.customer_label or payment.customer_id,
        facts=facts,
    )


def _customer_preview(link: DashboardLink, obj: dict[str, Any]) -> Preview:
    label = customer_label(obj, {})
    facts: list[tuple[str, str]] = []
    if obj.get("delinquent") is True:
        facts.append(("Delinquent", "yes: an invoice payment failed"))
    if as_str(obj.get("description")):
        facts.append(("Description", str(obj["description"])))
    return Preview(
        kind="Customer",
        object_id=link.object_id,
        livemode=obj.get("livemode") is True,
        account=link.account,
        status="deleted" if obj.get("deleted") is True else None,
        customer=label or "no name or email",
        facts=facts,
    )


def _charge_customer(charge: dict[str, Any]) -> str | None:
    customer = charge.get("customer")
    label = customer_label(as_dict(customer), as_dict(charge.get("billing_details")))
    return label or as_str(customer)


def _dispute_preview(link: DashboardLink, obj: dict[str, Any]) -> Preview:
    charge = as_dict(obj.get("charge"))
    status = as_str(obj.get("status")) or "unknown"
    answerable = status in ("needs_response", "warning_needs_response")
    facts = [("Reason", (as_str(obj.get("reason")) or "unknown").replace("_", " "))]
    charge_id = as_str(charge.get("id")) or as_str(obj.get("charge"))
    if charge_id:
        facts.append(("Charge", charge_id))
    return Preview(
        kind="Dispute",
        object_id=link.object_id,
        livemode=obj.get("livemode") is True,
        account=link.account,
        status=status,
        amount=as_int(obj.get("amount")),
        currency=as_str(obj.get("currency")),
        customer=_charge_customer(charge) if charge else None,
        due_by=dispute_due_by(obj) if answerable else None,
        facts=facts,
    )


def _refund_preview(link: DashboardLink, obj: dict[str, Any]) -> Preview:
    charge = as_dict(obj.get("charge"))
    facts: list[tuple[str, str]] = []
    if as_str(obj.get("reason")):
        facts.append(("Reason", str(obj["reason"]).replace("_", " ")))
    charge_id = as_str(charge.get("id")) or as_str(obj.get("charge"))
    if charge_id:
        facts.append(("Charge", charge_id))
    if as_str(obj.get("failure_reason")):
        facts.append(("Failure", str(obj["failure_reason"]).replace("_", " ")))
    return Preview(
        kind="Refund",
        object_id=link.object_id,
        livemode=(charge.get("livemode") is True) if charge else not link.test,
        account=link.account,
        status=as_str(obj.get("status")),
        amount=as_int(obj.get("amount")),
        currency=as_str(obj.get("currency")),
        customer=_charge_customer(charge) if charge else None,
        facts=facts,
    )


def _payout_preview(link: DashboardLink, obj: dict[str, Any]) -> Preview:
    facts: list[tuple[str, str]] = []
    if as_str(obj.get("failure_message")):
        facts.append(("Failure", str(obj["failure_message"])))
    return Preview(
        kind="Payout",
        object_id=link.object_id,
        livemode=obj.get("livemode") is True,
        account=link.account,
        status=as_str(obj.get("status")),
        amount=as_int(obj.get("amount")),
        currency=as_str(obj.get("currency")),
        facts=facts,
        dates=[("Arrives", d)] if (d := as_int(obj.get("arrival_date"))) else [],
    )


async def _read(deps: Deps, link: DashboardLink) -> Preview:
    v1, metrics, oid = deps.stripe.v1, deps.metrics, link.object_id
    # A Connect link's object lives in the connected account.
    options: Any = {"stripe_account": link.account} if link.account else None

    def params(expand: list[str]) -> Any:
        return {"expand": expand} if expand else None

    prefix = oid.split("_", 1)[0]
    if prefix == "pi":
        obj = await _with_customer(
            ["latest_charge"],
            "customer",
            lambda e: call(
                metrics,
                "payment_intents.retrieve",
                v1.payment_intents.retrieve_async(oid, params(e), options),
            ),
        )
        return _payment_preview(link, obj)
    if prefix in ("ch", "py"):
        obj = await _with_customer(
            [],
            "customer",
            lambda e: call(
                metrics,
                "charges.retrieve",
                v1.charges.retrieve_async(oid, params(e), options),
            ),
        )
        return _payment_preview(link, obj)
    if prefix == "cus":
        found = await call(
            metrics,
            "customers.retrieve",
            v1.customers.retrieve_async(oid, None, options),
        )
        return _customer_preview(link, plain_dict(found))
    if prefix in ("dp", "du"):
        obj = await _with_customer(
            ["charge"],
            "charge.customer",
            lambda e: call(
                metrics,
                "disputes.retrieve",
                v1.disputes.retrieve_async(oid, params(e), options),
            ),
        )
        return _dispute_preview(link, obj)
    if prefix == "re":
        obj = await _with_customer(
            ["charge"],
            "charge.customer",
            lambda e: call(
                metrics,
                "refunds.retrieve",
                v1.refunds.retrieve_async(oid, params(e), options),
            ),
        )
        return _refund_preview(link, obj)
    payout = await call(
        metrics, "payouts.retrieve", v1.payouts.retrieve_async(oid, None, options)
    )
    return _payout_preview(link, plain_dict(payout))


async def read_preview(deps: Deps, link: DashboardLink) -> Preview | None:
    """The link's preview; None when Stripe has no such object for this key
    (another account, the other mode) or could not be asked."""
    try:
        return await _read(deps, link)
    except stripe.PermissionError as exc:
        # Said in the preview: whoever pasted it learns what the key lacks.
        return Preview(
            kind=link.kind,
            object_id=link.object_id,
            livemode=not link.test,
            account=link.account,
            problem=describe_error(exc),
        )
    except stripe.InvalidRequestError as exc:
        if exc.code != "resource_missing":
            log.warning("preview of %s: %s", link.object_id, describe_error(exc))
        return None
    except stripe.StripeError as exc:
        log.warning("preview of %s failed: %s", link.object_id, describe_error(exc))
        return None
