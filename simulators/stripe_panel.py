"""What happens in a Stripe account, as the app hears of it: signed webhooks.

Each action changes :class:`FakeStripe`'s objects the way Stripe would (a refund
made in the Dashboard goes through the fake's own API, as the Dashboard goes
through Stripe's) and then delivers the events Stripe sends for it, each one
a POST signed with the endpoint's secret exactly as Stripe signs it
(``Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload")``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import secrets
import string
import time
from collections.abc import Coroutine
from typing import Any

import aiohttp

from .stripe import (
    DEFAULT_API_KEY,
    DEFAULT_STRIPE_VERSION,
    DISPUTE_REASONS,
    FakeStripe,
    StripeRequest,
    format_amount,
    new_id,
)

Json = dict[str, Any]

STRIPE_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"

# A sensible price in each currency the panel offers, in minor units.
PRICES: dict[str, int] = {
    "usd": 4999,
    "eur": 2500,
    "gbp": 1800,
    "jpy": 5000,
    "kwd": 12_500,  # 12.500 KWD: three decimals
    "inr": 149_900,
}

_NAMES = (
    ("Jenny Rosen", "jenny@example.com"),
    ("Kenji Sato", "kenji@example.jp"),
    ("Fatima Al-Sabah", "fatima@example.kw"),
    ("Emma Dupont", "emma@example.fr"),
    ("Oliver Smith", "oliver@example.co.uk"),
    ("Priya Patel", "priya@example.in"),
)

DISPUTE_OUTCOMES = ("won", "lost")
EVENT_DELAY = 0.3
# How long a pending card refund takes to go through here (days on Stripe).
REFUND_SETTLES_AFTER = 2.0


def signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    """``Stripe-Signature`` for ``payload``, as Stripe computes it."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256)
    return f"t={ts},v1={mac.hexdigest()}"


class StripePanel:
    """Buttons of a Stripe account: each makes objects and sends events."""

    def __init__(
        self,
        stripe: FakeStripe,
        *,
        webhook_secret: str,
        api_key: str = DEFAULT_API_KEY,
    ) -> None:
        self.stripe = stripe
        self.webhook_secret = webhook_secret
        self.api_key = api_key
        self.webhook_url = ""  # the app's …/stripe/webhook
        self.sent: list[Json] = []  # every event delivered, in order
        self.answers: list[int] = []  # the HTTP status of each delivery
        self._names = itertools.cycle(_NAMES)
        self.charges: list[str] = []  # made here one by one (not storms)
        self.disputes: list[str] = []
        self._http: aiohttp.ClientSession | None = None
        self._later: set[asyncio.Task[None]] = set()
        self._last_created = 0
        stripe.watchers.append(self._on_api_change)

    async def aclose(self) -> None:
        for task in list(self._later):
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    def overview(self) -> Json:
        """The payments and disputes made here, for choosing what to act on."""
        charges = []
        for charge_id in self.charges:
            charge = self.stripe.object(charge_id)
            charges.append(
                {
                    "id": charge_id,
                    "payment_intent": charge["payment_intent"],
                    "amount": charge["amount"],
                    "amount_refunded": charge["amount_refunded"],
                    "currency": charge["currency"],
                    "shown": format_amount(charge["amount"], charge["currency"]),
                    "name": charge["billing_details"].get("name"),
                    "disputed": charge["disputed"],
                }
            )
        disputes = []
        for dispute_id in self.disputes:
            dispute = self.stripe.object(dispute_id)
            disputes.append(
                {
                    "id": dispute_id,
                    "charge": dispute["charge"],
                    "status": dispute["status"],
                    "reason": dispute["reason"],
                    "shown": format_amount(dispute["amount"], dispute["currency"]),
                }
            )
        return {
            "charges": charges,
            "disputes": disputes,
            "currencies": list(PRICES),
            "dispute_reasons": sorted(DISPUTE_REASONS),
            "delivered": len(self.sent),
            "refused": sum(status != 200 for status in self.answers),
        }

    # ----------------------------------------------------------------- events

    def event(
        self,
        type: str,
        obj: Json,
        *,
        previous_attributes: Json | None = None,
        in_order: bool = True,
    ) -> Json:
        """An event about ``obj``. ``in_order``: its ``created`` is later than
        every earlier one's, as it would be for changes made by hand seconds
        apart; the bot orders an object's states by (created, event id), and
        clicks within one second would otherwise tie."""
        created = int(time.time())
        if in_order:
            created = self._last_created = max(created, self._last_created + 1)
        data: Json = {"object": obj}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        return {
            "id": new_id("evt"),
            "object": "event",
            "api_version": DEFAULT_STRIPE_VERSION,
            "created": created,
            "data": data,
            "livemode": self.stripe.livemode,
            "pending_webhooks": 1,
            "request": {"id": new_id("req"), "idempotency_key": None},
            "type": type,
        }

    async def deliver(self, event: Json) -> int:
        """POST one event to the app as Stripe does; the HTTP status."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        payload = json.dumps(event, indent=2)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": STRIPE_USER_AGENT,
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
            "Stripe-Signature": signature_header(payload, self.webhook_secret),
        }
        async with self._http.post(
            self.webhook_url, data=payload.encode(), headers=headers
        ) as resp:
            await resp.read()
            self.sent.append(event)
            self.answers.append(resp.status)
            return resp.status

    async def _send(self, *events: Json) -> list[str]:
        for event in events:
            await self.deliver(event)
        return [e["id"] for e in events]

    def _on_api_change(self, request: StripeRequest, obj: Json) -> None:
        """What Stripe sends after an API call changes something (the bot's
        refunds, evidence and accepted disputes, and the Dashboard's refunds)."""
        kind = obj.get("object")
        events: list[Json] = []
        if kind == "refund":
            events.append(self.event("refund.created", obj))
            if obj.get("status") != "failed" and obj.get("charge"):
                charge = self._copy(str(obj["charge"]))
                events.append(self.event("charge.refunded", charge))
            if obj.get("status") == "pending":
                self._later_do(self._settle_refund(str(obj["id"])))
        elif kind == "dispute" and request.path.endswith("/close"):
            events.append(self.event("charge.dispute.closed", obj))
        elif kind == "dispute":
            events.append(self.event("charge.dispute.updated", obj))
        if events:
            self._later_do(self._deliver_later(events))

    def _later_do(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _deliver_later(self, events: list[Json]) -> None:
        # Stripe's webhooks come a moment after its API answered.
        await asyncio.sleep(EVENT_DELAY)
        await self._send(*events)

    async def _settle_refund(self, refund_id: str) -> None:
        """A pending card refund goes through and the acquirer's reference
        number (ARN) arrives: refund.updated and charge.refund.updated."""
        await asyncio.sleep(REFUND_SETTLES_AFTER)
        refund = self.stripe.object(refund_id)
        refund["status"] = "succeeded"
        refund["destination_details"]["card"].update(
            reference="".join(secrets.choice(string.digits) for _ in range(23)),
            reference_status="available",
        )
        previous = {"status": "pending"}
        await self._send(
            self.event(
                "refund.updated", self._copy(refund_id), previous_attributes=previous
            ),
            self.event(
                "charge.refund.updated",
                self._copy(refund_id),
                previous_attributes=previous,
            ),
        )

    async def settled(self) -> None:
        """Wait until the events of API calls so far are delivered."""
        while self._later:
            await asyncio.gather(*list(self._later), return_exceptions=True)

    def _copy(self, object_id: str) -> Json:
        copied: Json = json.loads(json.dumps(self.stripe.object(object_id)))
        return copied

    # ---------------------------------------------------------------- actions

    def _customer(self) -> Json:
        name, email = next(self._names)
        customer = self.stripe.add_customer(name=name, email=email)
        self.stripe.add_payment_method(customer["id"], default=True)
        return customer

    async def payment(
        self, *, currency: str = "usd", amount: int | None = None
    ) -> Json:
        """A new customer pays by card: payment_intent.succeeded, charge.succeeded."""
        currency = currency.lower()
        customer = self._customer()
        pi, charge = self.stripe.add_payment(
            customer_id=customer["id"],
            amount=amount if amount is not None else PRICES.get(currency, 2000),
            currency=currency,
            description=f"Order #{charge_number()}",
        )
        self.charges.append(charge["id"])
        events = await self._send(
            self.event("payment_intent.succeeded", self._copy(pi["id"])),
            self.event("charge.succeeded", self._copy(charge["id"])),
        )
        return {
            "customer": customer["id"],
            "payment_intent": pi["id"],
            "charge": charge["id"],
            "events": events,
        }

    async def failed_payment(self, *, currency: str = "usd") -> Json:
        """A card is declined: charge.failed, payment_intent.payment_failed."""
        currency = currency.lower()
        customer = self._customer()
        pi, charge = self.stripe.add_payment(
            customer_id=customer["id"],
            amount=PRICES.get(currency, 2000),
            currency=currency,
            status="failed",
        )
        events = await self._send(
            self.event("charge.failed", self._copy(charge["id"])),
            self.event("payment_intent.payment_failed", self._copy(pi["id"])),
        )
        return {"payment_intent": pi["id"], "charge": charge["id"], "events": events}

    async def dashboard_refund(self, *, charge: str, amount: int | None = None) -> Json:
        """Someone refunds in the Dashboard (through the API, as it does):
        refund.created and charge.refunded."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        form = {"charge": charge, "reason": "requested_by_customer"}
        if amount is not None:
            form["amount"] = str(amount)
        async with self._http.post(
            f"{self.stripe.url}/v1/refunds",
            data=form,
            headers={"Authorization": f"Bearer {self.api_key}"},
        ) as resp:
            answer = await resp.json()
        if "error" in answer:
            return {"error": answer["error"].get("message", "refused")}
        # refund.created and charge.refunded follow, as after any API refund.
        return {"refund": answer["id"]}

    async def dispute(self, *, charge: str, reason: str = "fraudulent") -> Json:
        """The cardholder's bank opens a dispute: charge.dispute.created, then
        charge.dispute.funds_withdrawn (a chargeback takes the money)."""
        dispute = self.stripe.add_dispute(charge, reason=reason)
        self.disputes.append(dispute["id"])
        events = [self.event("charge.dispute.created", self._copy(dispute["id"]))]
        if not dispute["status"].startswith("warning_"):
            events.append(
                self.event("charge.dispute.funds_withdrawn", self._copy(dispute["id"]))
            )
        return {"dispute": dispute["id"], "events": await self._send(*events)}

    async def close_dispute(self, *, dispute: str, outcome: str) -> Json:
        """The bank decides: charge.dispute.closed (won: funds_reinstated too)."""
        if outcome not in DISPUTE_OUTCOMES:
            raise ValueError(f"a dispute closes won or lost, not {outcome!r}")
        obj = self.stripe.object(dispute)
        previous = {"status": obj["status"]}
        obj["status"] = outcome
        events = [
            self.event(
                "charge.dispute.closed",
                self._copy(dispute),
                previous_attributes=previous,
            )
        ]
        if outcome == "won":
            events.append(
                self.event("charge.dispute.funds_reinstated", self._copy(dispute))
            )
        return {"dispute": dispute, "events": await self._send(*events)}

    async def failed_payout(self, *, currency: str = "usd") -> Json:
        """A payout to the bank account bounces: payout.failed."""
        now = int(time.time())
        payout = {
            "id": new_id("po"),
            "object": "payout",
            "amount": PRICES.get(currency, 2000) * 20,
            "arrival_date": now + 86400,
            "automatic": True,
            "balance_transaction": new_id("txn"),
            "created": now,
            "currency": currency,
            "description": "STRIPE PAYOUT",
            "destination": new_id("ba"),
            "failure_balance_transaction": new_id("txn"),
            "failure_code": "account_closed",
            "failure_message": "The bank account has been closed.",
            "livemode": self.stripe.livemode,
            "metadata": {},
            "method": "standard",
            "source_type": "card",
            "statement_descriptor": None,
            "status": "failed",
            "type": "bank_account",
        }
        events = await self._send(
            self.event("payout.failed", payout, previous_attributes={"status": "paid"})
        )
        return {"payout": payout["id"], "events": events}

    async def early_fraud_warning(self, *, charge: str) -> Json:
        """The card network warns of fraud: radar.early_fraud_warning.created."""
        obj = self.stripe.object(charge)
        warning = {
            "id": new_id("issfr"),
            "object": "radar.early_fraud_warning",
            "actionable": True,
            "charge": charge,
            "created": int(time.time()),
            "fraud_type": "made_with_stolen_card",
            "livemode": self.stripe.livemode,
            "payment_intent": obj.get("payment_intent"),
        }
        events = await self._send(
            self.event("radar.early_fraud_warning.created", warning)
        )
        return {"early_fraud_warning": warning["id"], "events": events}

    async def storm(self, *, count: int = 500, concurrency: int = 8) -> Json:
        """``count`` card payments at once: one charge.succeeded each, delivered
        ``concurrency`` at a time as Stripe does in a burst."""
        customer = self._customer()
        events = []
        for _ in range(count):
            _, charge = self.stripe.add_payment(
                customer_id=customer["id"], amount=PRICES["usd"], currency="usd"
            )
            # Events of a burst share their second, as Stripe's do.
            obj = self._copy(charge["id"])
            events.append(self.event("charge.succeeded", obj, in_order=False))
        queue = iter(events)

        async def worker() -> None:
            for event in queue:
                await self.deliver(event)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {
            "charges": [e["data"]["object"]["id"] for e in events],
            "events": [e["id"] for e in events],
        }


_orders = itertools.count(2001)


def charge_number() -> int:
    return next(_orders)
