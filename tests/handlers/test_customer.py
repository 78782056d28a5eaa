"""`/stripe customer` and the "Refund…" button beside each payment."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.blocks.refunds import (
    AMOUNT_INPUT,
    NOTE_INPUT,
    OPEN_MODAL_ACTION,
    REASON_INPUT,
    REQUEST_CALLBACK,
)
from bot.deps import Deps
from simulators.slack import FakeSlack
from simulators.slack_requests import sign, slash_command_body
from simulators.stripe import FakeStripe
from tests.handlers.helpers import (
    Client,
    approval_message,
    click,
    command,
    requests,
    submit,
    text_of,
)
from tests.support import SIGNING_SECRET, STRIPE_KEY

Json = dict[str, Any]


def jenny(fake_stripe: FakeStripe, *, name: str = "Jenny Rosen") -> Json:
    """A customer with two cards, three payments (one refunded a little, one
    disputed) and the default card marked."""
    customer = fake_stripe.add_customer(email="jenny@example.com", name=name)
    cid = customer["id"]
    default = fake_stripe.add_payment_method(cid, last4="4242", default=True)
    other = fake_stripe.add_payment_method(
        cid, brand="mastercard", last4="4444", exp_month=3, exp_year=2031
    )
    paid, paid_charge = fake_stripe.add_payment(customer_id=cid, amount=1200)
    fake_stripe.object(paid_charge["id"])["amount_refunded"] = 200
    disputed, disputed_charge = fake_stripe.add_payment(customer_id=cid, amount=2500)
    dispute = fake_stripe.add_dispute(disputed_charge["id"])
    yen, _ = fake_stripe.add_payment(customer_id=cid, amount=5000, currency="jpy")
    return {
        "customer": customer,
        "default": default,
        "other": other,
        "paid": paid,
        "disputed": disputed,
        "dispute": dispute,
        "yen": yen,
    }


def buttons(answer: Json) -> list[Json]:
    return [
        block["accessory"]
        for block in answer.get("blocks") or []
        if block.get("accessory", {}).get("action_id") == OPEN_MODAL_ACTION
    ]


@pytest.mark.parametrize("by", ["email", "customer", "paid", "charge"])
async def test_customer_shows_cards_payments_and_open_disputes(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, by: str
) -> None:
    data = jenny(fake_stripe)
    paid_charge = fake_stripe.object(data["paid"]["id"])["latest_charge"]
    query = {
        "email": "jenny@example.com",
        "customer": data["customer"]["id"],
        "paid": data["paid"]["id"],
        "charge": paid_charge,
    }[by]
    answer = await command(client, fake_slack, f"customer {query}")
    assert answer["response_type"] == "ephemeral"
    shown = text_of(answer)
    for expected in (
        "Jenny Rosen",
        "jenny@example.com",
        data["customer"]["id"],
        f"{data['default']['id']}` · Visa •••• 4242 · expires 12/2030 · *default*",
        f"{data['other']['id']}` · Mastercard •••• 4444 · expires 03/2031",
        "12.00 USD",
        "refunded 2.00 USD",
        "5,000 JPY",
        data["paid"]["id"],
        data["dispute"]["id"],
        "disputed (dispute needs response)",
        "respond by",
    ):
        assert expected in shown, expected
    assert "not disputed" in shown
    # Each refundable payment has a button; the disputed one does not.
    values = [json.loads(b["value"]) for b in buttons(answer)]
    assert {v["p"] for v in values} == {data["paid"]["id"], data["yen"]["id"]}
    assert {(v["c"], v["r"]) for v in values} == {("usd", 1000), ("jpy", 5000)}


async def test_every_customer_with_the_email_is_shown(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    first = fake_stripe.add_customer(email="twin@example.com", name="First")
    second = fake_stripe.add_customer(email="twin@example.com", name="<!here> Second")
    answer = await command(client, fake_slack, "customer twin@example.com")
    shown = text_of(answer)
    assert "2 customers" in shown
    assert first["id"] in shown
    assert second["id"] in shown
    assert "&lt;!here&gt; Second" in shown
    assert "<!here>" not in shown
    assert len(answer["blocks"]) <= 50


async def test_a_payment_without_a_customer_is_shown_alone(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    pi, _ = fake_stripe.add_payment(customer_id=None, amount=700, currency="kwd")
    answer = await command(client, fake_slack, f"customer {pi['id']}")
    shown = text_of(answer)
    assert "no Stripe customer" in shown
    assert "0.700 KWD" in shown
    assert [json.loads(b["value"])["p"] for b in buttons(answer)] == [pi["id"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("nobody@example.com", "Nothing in Stripe matches `nobody@example.com`"),
        ("cus_missing", "Nothing in Stripe matches `cus_missing`"),
        ("pi_missing", "Nothing in Stripe matches `pi_missing`"),
        ("jenny", "`jenny` is not an email or a Stripe ID"),
        ("in_123", "`in_123` is not an email or a Stripe ID"),
        ("", "Which customer?"),
    ],
)
async def test_nothing_found_or_malformed_says_how_to_ask(
    client: Client, fake_slack: FakeSlack, query: str, expected: str
) -> None:
    answer = await command(client, fake_slack, f"customer {query}")
    assert expected in answer["text"]
    assert "/stripe customer &lt;email | cus_… | pi_… | ch_…&gt;" in answer["text"]


async def test_a_restricted_key_names_the_missing_permission(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    fake_stripe.api_keys[STRIPE_KEY] = frozenset({"rak_charge_read"})
    answer = await command(client, fake_slack, "customer jenny@example.com")
    assert "*Customers: Read*" in answer["text"]
    assert "rak_customer_read" in answer["text"]
    assert STRIPE_KEY not in answer["text"]


async def test_the_ack_does_not_wait_for_stripe(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    customer = fake_stripe.add_customer(email="slow@example.com", name="Slow")
    # Stripe does not answer until the test says so: an ack that waited for
    # it would never come (the timeout bounds the test, it measures nothing).
    stripe_answers = fake_stripe.hold("GET", "/v1/customers")
    url = fake_slack.response_url()
    body = slash_command_body(text=f"customer {customer['id']}", response_url=url)
    resp = await asyncio.wait_for(
        client.post("/slack/events", data=body, headers=sign(body, SIGNING_SECRET)),
        timeout=20,
    )
    assert resp.status == 200
    assert fake_slack.responses.get(url) is None  # nothing answered yet
    stripe_answers.release()
    (answer,) = await fake_slack.wait_for_response(url, timeout=20)
    assert customer["id"] in text_of(answer)
    assert stripe_answers.arrived >= 1  # the lookup did wait for Stripe


async def test_the_refund_button_opens_a_modal_that_asks_a_manager(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    data = jenny(fake_stripe)
    answer = await command(client, fake_slack, f"customer {data['customer']['id']}")
    (usd,) = [b for b in buttons(answer) if json.loads(b["value"])["c"] == "usd"]
    url = await click(
        client,
        fake_slack,
        action_id=OPEN_MODAL_ACTION,
        value=usd["value"],
        user_id="U_AGENT",
        channel_id="C_SUPPORT",
        trigger_id="T.refund",
    )
    (opened,) = await fake_slack.wait_for_calls("views.open", 1)
    assert opened.args["trigger_id"] == "T.refund"
    view = opened.args["view"]
    assert view["callback_id"] == REQUEST_CALLBACK
    assert "Amount in USD" in json.dumps(view["blocks"])
    assert "10.00 USD left" in json.dumps(view["blocks"])
    metadata = view["private_metadata"]

    for typed, error in (("5.001", "at most 2 decimal places"), ("10.01", "left")):
        resp = await submit(
            client,
            callback_id=REQUEST_CALLBACK,
            user_id="U_AGENT",
            values={AMOUNT_INPUT: typed, REASON_INPUT: ("select", None)},
            private_metadata=metadata,
        )
        body = await resp.json()
        assert body["response_action"] == "errors"
        assert error in body["errors"][AMOUNT_INPUT]
    assert await requests(deps) == []

    await submit(
        client,
        callback_id=REQUEST_CALLBACK,
        user_id="U_AGENT",
        values={
            AMOUNT_INPUT: "4.50",
            REASON_INPUT: ("select", "requested_by_customer"),
            NOTE_INPUT: "late delivery",
        },
        private_metadata=metadata,
    )
    (told, *_) = await fake_slack.wait_for_response(url)
    assert "<#CAPPROVALS>" in told["text"]
    (row,) = await requests(deps)
    assert (row.amount, row.currency, row.reason, row.note) == (
        450,
        "usd",
        "requested_by_customer",
        "late delivery",
    )
    assert row.payment_id == data["paid"]["id"]
    assert row.requested_in == "C_SUPPORT"
    assert "4.50 USD" in text_of(await approval_message(fake_slack, row.id or 0))


async def test_the_modal_refuses_what_stripe_would_refuse(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, charge = fake_stripe.add_payment(customer_id=None, amount=1000)
    answer = await command(client, fake_slack, f"customer {pi['id']}")
    (button,) = buttons(answer)
    url = await click(
        client,
        fake_slack,
        action_id=OPEN_MODAL_ACTION,
        value=button["value"],
        user_id="U_AGENT",
        channel_id="C_SUPPORT",
    )
    (opened,) = await fake_slack.wait_for_calls("views.open", 1)
    # Meanwhile the payment is disputed: only Stripe knows, after the ack.
    fake_stripe.add_dispute(charge["id"])
    await submit(
        client,
        callback_id=REQUEST_CALLBACK,
        user_id="U_AGENT",
        values={AMOUNT_INPUT: "", REASON_INPUT: ("select", None)},
        private_metadata=opened.args["view"]["private_metadata"],
    )
    (told, *_) = await fake_slack.wait_for_response(url)
    assert "disputed" in told["text"]
    assert await requests(deps) == []


@pytest.mark.parametrize("settings_overrides", [{"SUPPORT_USER_IDS": "U_AGENT"}])
async def test_only_support_can_submit_the_refund_modal(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = fake_stripe.add_payment(customer_id=None, amount=1000)
    url = fake_slack.response_url()
    metadata = json.dumps({"p": pi["id"], "c": "usd", "r": 1000, "u": url})
    resp = await submit(
        client,
        callback_id=REQUEST_CALLBACK,
        user_id="U_STRANGER",
        values={AMOUNT_INPUT: "1", REASON_INPUT: ("select", None)},
        private_metadata=metadata,
    )
    # The modal itself says so (bot.access answers before any listener).
    answer = await resp.json()
    assert answer["response_action"] == "update"
    assert "is for the support team" in json.dumps(answer["view"])
    assert await requests(deps) == []
    assert fake_stripe.requests == []
