"""The Stripe panel: objects made in the fake Stripe, events delivered signed.

A receiver on loopback checks each delivery with stripe-python's own
``Webhook.construct_event``, as the bot's endpoint does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import stripe
from aiohttp import web

from bot.stripe_api import close_stripe_client
from simulators.stripe import DEFAULT_API_KEY, FakeStripe
from simulators.stripe_panel import STRIPE_USER_AGENT, StripePanel

SECRET = "whsec_panel_test_secret"


class Receiver:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.text()
        try:
            stripe.Webhook.construct_event(
                payload, request.headers.get("Stripe-Signature", ""), SECRET
            )
        except stripe.SignatureVerificationError:
            return web.Response(status=400)
        self.events.append(json.loads(payload))
        self.headers.append(dict(request.headers))
        return web.json_response({"received": True})

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as started:
        yield started


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver()
    app = web.Application()
    app.router.add_post("/stripe/webhook", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield got, f"http://127.0.0.1:{runner.addresses[0][1]}/stripe/webhook"
    await runner.cleanup()


@pytest.fixture
async def panel(
    fake: FakeStripe, receiver: tuple[Receiver, str]
) -> AsyncIterator[StripePanel]:
    made = StripePanel(fake, webhook_secret=SECRET)
    made.webhook_url = receiver[1]
    yield made
    await made.aclose()


async def test_a_kwd_payment_sends_two_signed_events_with_three_decimals(
    panel: StripePanel, receiver: tuple[Receiver, str], fake: FakeStripe
) -> None:
    got, _ = receiver
    made = await panel.payment(currency="kwd")

    assert got.types() == ["payment_intent.succeeded", "charge.succeeded"]
    charge = got.events[1]["data"]["object"]
    assert charge["id"] == made["charge"]
    assert (charge["amount"], charge["currency"]) == (12_500, "kwd")
    assert fake.object(made["charge"])["status"] == "succeeded"
    assert got.headers[0]["User-Agent"] == STRIPE_USER_AGENT
    assert got.headers[0]["Content-Type"] == "application/json; charset=utf-8"
    assert panel.answers == [200, 200]


async def test_a_wrong_secret_is_refused_by_the_receiver(
    panel: StripePanel, receiver: tuple[Receiver, str]
) -> None:
    panel.webhook_secret = "whsec_someone_else"
    await panel.payment(currency="jpy")
    assert receiver[0].events == []
    assert panel.answers == [400, 400]


async def test_an_api_refund_sends_created_then_settles_with_an_arn(
    panel: StripePanel, receiver: tuple[Receiver, str], fake: FakeStripe
) -> None:
    got, _ = receiver
    fake.refund_status = "pending"
    made = await panel.payment(currency="usd")
    client = stripe.StripeClient(
        DEFAULT_API_KEY,
        base_addresses={"api": fake.url},
        http_client=stripe.AIOHTTPClient(),
    )
    try:
        refund = await client.v1.refunds.create_async(
            {"payment_intent": made["payment_intent"], "amount": 1000}
        )
    finally:
        await close_stripe_client(client)
    await panel.settled()

    assert got.types()[2:] == [
        "refund.created",
        "charge.refunded",
        "refund.updated",
        "charge.refund.updated",
    ]
    created, updated = got.events[2]["data"]["object"], got.events[4]["data"]
    assert created["id"] == refund.id
    assert created["status"] == "pending"
    assert updated["object"]["status"] == "succeeded"
    assert updated["previous_attributes"] == {"status": "pending"}
    reference = updated["object"]["destination_details"]["card"]["reference"]
    assert len(reference) == 23
    assert reference.isdigit()
    assert got.events[3]["data"]["object"]["amount_refunded"] == 1000


async def test_a_dashboard_refund_goes_through_the_api(
    panel: StripePanel, receiver: tuple[Receiver, str], fake: FakeStripe
) -> None:
    made = await panel.payment(currency="eur")
    answer = await panel.dashboard_refund(charge=made["charge"])
    await panel.settled()
    assert answer["refund"] == fake.refunds[0]["id"]
    assert receiver[0].types()[2:] == ["refund.created", "charge.refunded"]
    again = await panel.dashboard_refund(charge=made["charge"])
    assert "already been refunded" in again["error"]


async def test_a_dispute_opens_and_closes_won_or_lost(
    panel: StripePanel, receiver: tuple[Receiver, str], fake: FakeStripe
) -> None:
    got, _ = receiver
    made = await panel.payment(currency="gbp")
    opened = await panel.dispute(charge=made["charge"], reason="fraudulent")
    await panel.close_dispute(dispute=opened["dispute"], outcome="won")

    assert got.types()[2:] == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
    ]
    # Clicks within one second still give each change a later time: the
    # bot takes an object's state from the newest event.
    created = [e["created"] for e in got.events]
    assert created == sorted(set(created))
    closed = got.events[4]["data"]
    assert closed["object"]["status"] == "won"
    assert closed["previous_attributes"] == {"status": "needs_response"}
    assert fake.object(made["charge"])["disputed"] is True
    assert panel.overview()["disputes"][0]["status"] == "won"
    with pytest.raises(ValueError, match="won or lost"):
        await panel.close_dispute(dispute=opened["dispute"], outcome="maybe")


async def test_a_failed_payment_a_failed_payout_and_a_fraud_warning(
    panel: StripePanel, receiver: tuple[Receiver, str]
) -> None:
    got, _ = receiver
    declined = await panel.failed_payment(currency="jpy")
    await panel.failed_payout(currency="usd")
    await panel.early_fraud_warning(charge=declined["charge"])

    assert got.types() == [
        "charge.failed",
        "payment_intent.payment_failed",
        "payout.failed",
        "radar.early_fraud_warning.created",
    ]
    assert got.events[0]["data"]["object"]["failure_code"] == "card_declined"
    assert got.events[2]["data"]["object"]["failure_code"] == "account_closed"
    warning = got.events[3]["data"]["object"]
    assert warning["charge"] == declined["charge"]
    assert warning["payment_intent"] == declined["payment_intent"]


async def test_a_storm_delivers_every_event_once(
    panel: StripePanel, receiver: tuple[Receiver, str]
) -> None:
    stormed = await panel.storm(count=60, concurrency=6)
    got = receiver[0]
    assert sorted(e["id"] for e in got.events) == sorted(stormed["events"])
    assert len(set(stormed["charges"])) == 60
    assert set(got.types()) == {"charge.succeeded"}
    # Storm payments stay out of the panel's list of payments to act on.
    assert panel.overview()["charges"] == []
