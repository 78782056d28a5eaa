"""Mistyped refund amounts, end to end: refused, never a request for everything.

Each case failed before: the word after the payment ID was read as "no
amount", so the request asked for all that was left, with the typo as a note.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.blocks.refunds import AMOUNT_INPUT, REQUEST_CALLBACK
from bot.deps import Deps
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.handlers.helpers import (
    APPROVALS,
    Client,
    channel_messages,
    command,
    requests,
    submit,
)

Json = dict[str, Any]


@pytest.mark.parametrize(
    ("currency", "typed", "says"),
    [
        ("eur", "EUR 12.50", "Put the amount first, in EUR"),
        ("eur", "12.50 USD", "is in EUR, not USD"),
        ("eur", "l2.50", "a letter where a digit should be"),
        ("eur", "O.50", "a letter where a digit should be"),
        ("jpy", "５００", "digits 0-9"),
        ("eur", "١٢", "digits 0-9"),
        ("usd", "1,250", "could mean 1250 or 1.250"),
        ("isk", "500.50", "whole units only"),
        ("usd", "duplicate 12.50", "right after the payment ID"),
    ],
)
async def test_a_mistyped_amount_requests_nothing(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    currency: str,
    typed: str,
    says: str,
) -> None:
    pi, _ = fake_stripe.add_payment(customer_id=None, amount=500_000, currency=currency)
    answer = await command(client, fake_slack, f"refund {pi['id']} {typed}")
    assert says in answer["text"]
    assert "Nothing was requested" in answer["text"]
    assert f"/stripe refund {pi['id']} " in answer["text"]
    assert await requests(deps) == []
    assert channel_messages(fake_slack, APPROVALS) == []


async def test_the_payments_own_currency_after_the_amount_is_accepted(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = fake_stripe.add_payment(customer_id=None, amount=5000, currency="eur")
    answer = await command(client, fake_slack, f"refund {pi['id']} 12.50 EUR")
    assert "waiting for a manager" in answer["text"], answer["text"]
    (row,) = await requests(deps)
    assert (row.amount, row.currency, row.note) == (1250, "eur", None)


async def test_the_request_modal_refuses_a_fraction_of_a_krona(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = fake_stripe.add_payment(customer_id=None, amount=100_000, currency="isk")
    response = await submit(
        client,
        callback_id=REQUEST_CALLBACK,
        user_id="U_AGENT",
        values={AMOUNT_INPUT: "500.50"},
        private_metadata=json.dumps({"p": pi["id"], "c": "isk", "r": 100_000}),
    )
    assert response.status == 200
    answer: Json = await response.json()
    assert answer["response_action"] == "errors"
    assert "whole units only" in answer["errors"][AMOUNT_INPUT]
    assert await requests(deps) == []
