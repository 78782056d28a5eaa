"""Early fraud warnings become refund requests: signed webhooks and clicks in,
the fake Stripe and Slack out, on both databases."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bot import fraud_warnings
from bot.blocks import OPEN_IN_STRIPE_ACTION, open_in_stripe
from bot.blocks.fraud_warnings import EFW_REFUND_ACTION, refund_offer, with_offer
from bot.blocks.refunds import APPROVE_ACTION
from bot.deps import Deps
from handlers.jobs.refunds import retry_approved
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.conftest import ManualClock
from tests.handlers.helpers import (
    Client,
    approval_message,
    click,
    eventually,
    message_saying,
    only_request,
    requests,
    status_becomes,
    text_of,
)
from tests.support import event, signed

Json = dict[str, Any]
DISPUTES = "CDISPUTES"


async def deliver(client: Client, evt: Json) -> None:
    body, headers = signed(evt)
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 200, await resp.text()


def paid(fake_stripe: FakeStripe, amount: int = 2000) -> Json:
    customer = fake_stripe.add_customer(email="jenny@example.com", name="Jenny")
    _, charge = fake_stripe.add_payment(customer_id=customer["id"], amount=amount)
    return charge


def buttons(message: Json) -> list[str]:
    """The buttons that act; every alert also links to the Dashboard."""
    found = [
        element
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert any(e["action_id"] == OPEN_IN_STRIPE_ACTION for e in found)
    return [e["action_id"] for e in found if e["action_id"] != OPEN_IN_STRIPE_ACTION]


async def warned(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    charge: Json,
    *,
    actionable: bool = True,
    account: str | None = None,
) -> tuple[Json, Json]:
    """An early fraud warning on the charge, delivered and checked with
    Stripe; (the warning, its alert as Slack shows it after the check)."""
    with fake_stripe.on_account(account):  # the charge's account
        warning = fake_stripe.add_early_fraud_warning(
            charge["id"], actionable=actionable
        )
    evt = event("radar.early_fraud_warning.created", copy.deepcopy(warning))
    if account is not None:
        evt["account"] = account  # a Connect event
    await deliver(client, evt)
    alert = await message_saying(fake_slack, DISPUTES, warning["id"])
    assert buttons(alert) == [], "no offer before Stripe was asked"
    assert await fraud_warnings.check_warnings(deps) == 1
    await eventually(lambda: "edited" in alert, what="the alert edited")
    return warning, alert


async def press_refund(
    client: Client, fake_slack: FakeSlack, warning: Json, user_id: str = "U_AGENT"
) -> str:
    url = await click(
        client,
        fake_slack,
        action_id=EFW_REFUND_ACTION,
        value=warning["id"],
        user_id=user_id,
        channel_id=DISPUTES,
    )
    (answer, *_) = await fake_slack.wait_for_response(url, timeout=15)
    return str(answer["text"])


async def test_an_actionable_warning_offers_a_refund_a_manager_approves(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    charge = paid(fake_stripe)
    # Already partly refunded: the request is for what is left.
    fake_stripe.object(charge["id"])["amount_refunded"] = 500
    warning, alert = await warned(client, fake_slack, fake_stripe, deps, charge)
    assert buttons(alert) == [EFW_REFUND_ACTION]
    assert "made with stolen card" in text_of(alert).lower()
    # One row of buttons: Refund… beside Open in Stripe, as on other messages.
    (row_of_buttons,) = [b for b in alert["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in row_of_buttons["elements"]] == [
        EFW_REFUND_ACTION,
        OPEN_IN_STRIPE_ACTION,
    ]

    answer = await press_refund(client, fake_slack, warning)
    assert "waiting for a manager" in answer
    row = await only_request(deps)
    assert (row.status, row.amount, row.currency) == ("pending", 1500, "usd")
    assert (row.reason, row.charge_id, row.requested_by) == (
        "fraudulent",
        charge["id"],
        "U_AGENT",
    )
    assert warning["id"] in (row.note or "")
    message = await approval_message(fake_slack, row.id or 0)
    assert "15.00 USD" in text_of(message)
    assert fake_stripe.requests_to("POST", "/v1/refunds") == []

    await click(
        client,
        fake_slack,
        action_id=APPROVE_ACTION,
        value=str(row.id),
        user_id="U_MANAGER",
    )
    done = await status_becomes(deps, row.id or 0, "succeeded")
    (made,) = fake_stripe.requests_to("POST", "/v1/refunds")
    assert made.params["amount"] == "1500"
    assert made.params["reason"] == "fraudulent"
    assert made.params["charge"] == charge["id"]
    assert done.refund_id is not None


async def test_a_warning_on_a_disputed_charge_offers_nothing(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    charge = paid(fake_stripe)
    dispute = fake_stripe.add_dispute(charge["id"])
    # The event says actionable (it was, when Stripe made it); Stripe's charge
    # says disputed now, and that is what counts.
    warning, alert = await warned(client, fake_slack, fake_stripe, deps, charge)
    assert buttons(alert) == []
    assert "the charge is disputed" in text_of(alert)
    assert dispute["id"]

    answer = await press_refund(client, fake_slack, warning)
    assert "no longer offers a refund" in answer
    assert await requests(deps) == []


async def test_a_warning_on_a_fully_refunded_charge_offers_nothing(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    charge = paid(fake_stripe)
    stored = fake_stripe.object(charge["id"])
    stored.update(amount_refunded=2000, refunded=True)
    _, alert = await warned(client, fake_slack, fake_stripe, deps, charge)
    assert buttons(alert) == []
    assert "Refunded in full" in text_of(alert)


async def test_a_warning_stripe_marks_not_actionable_offers_nothing(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    charge = paid(fake_stripe)
    _, alert = await warned(
        client, fake_slack, fake_stripe, deps, charge, actionable=False
    )
    assert buttons(alert) == []
    assert "not actionable" in text_of(alert)


@pytest.mark.parametrize("clock", [ManualClock()])
async def test_a_connected_accounts_warning_is_refunded_in_its_account(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    clock: ManualClock,
) -> None:
    account = str(fake_stripe.add_connected_account(name="Bob's Bikes")["id"])
    with fake_stripe.on_account(account):
        charge = paid(fake_stripe)
    warning, alert = await warned(
        client, fake_slack, fake_stripe, deps, charge, account=account
    )
    assert buttons(alert) == [EFW_REFUND_ACTION]
    assert "Connected account *Bob's Bikes*" in text_of(alert)

    answer = await press_refund(client, fake_slack, warning)
    assert "waiting for a manager" in answer
    row = await only_request(deps)
    assert (row.account, row.amount, row.reason) == (account, 2000, "fraudulent")
    message = await approval_message(fake_slack, row.id or 0)
    assert "Connected account *Bob's Bikes*" in text_of(message)

    # Stripe refunds, but the answer is lost: the retry looks for the refund
    # (by the request in its metadata) in the connected account, and finds it.
    fake_stripe.fail_next(
        "POST", "/v1/refunds", status=500, after_execute=True, should_retry=False
    )
    await click(
        client,
        fake_slack,
        action_id=APPROVE_ACTION,
        value=str(row.id),
        user_id="U_MANAGER",
    )
    await eventually(
        lambda: "Stripe did not answer" in text_of(message), what="the lost answer"
    )
    clock.advance(3600)
    await retry_approved(deps)
    done = await status_becomes(deps, row.id or 0, "succeeded")
    (made,) = fake_stripe.requests_to("POST", "/v1/refunds")
    assert (made.params["charge"], made.params["amount"]) == (charge["id"], "2000")
    with fake_stripe.on_account(account):
        assert fake_stripe.object(done.refund_id or "")["charge"] == charge["id"]

    about = [
        r
        for r in fake_stripe.requests
        if charge["id"] in r.path + json.dumps(r.params)
        or charge["payment_intent"] in r.path + json.dumps(r.params)
        or r.path == "/v1/refunds"
    ]
    # The check, the request's lookup, the re-check before refunding, the
    # refund, the listing: every one in the connected account.
    assert {(r.method, r.path.split("/")[2]) for r in about} >= {
        ("GET", "charges"),
        ("POST", "refunds"),
        ("GET", "refunds"),
    }
    assert len(fake_stripe.requests_to("GET", f"/v1/charges/{charge['id']}")) >= 3
    assert [r.stripe_account for r in about] == [account] * len(about)


@pytest.mark.parametrize(
    ("settings_overrides", "livemode"),
    [({}, True), ({"STRIPE_API_KEY": "sk_live_fake"}, False)],
    ids=["live-warning-test-key", "test-warning-live-key"],
)
async def test_a_warning_in_the_other_mode_than_the_key_offers_nothing_and_says_why(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    livemode: bool,
) -> None:
    mode, key = ("live", "test") if livemode else ("test", "live")
    charge = paid(fake_stripe)
    warning = fake_stripe.add_early_fraud_warning(charge["id"])
    evt = event(
        "radar.early_fraud_warning.created",
        {**copy.deepcopy(warning), "livemode": livemode},
        livemode=livemode,
    )
    await deliver(client, evt)
    alert = await message_saying(fake_slack, DISPUTES, warning["id"])
    said = text_of(alert)
    assert f"*{mode}-mode* object, and stripe-ops runs with a {key}-mode key" in said

    # Nothing to check with a key that cannot see the charge: no offer, ever.
    await fraud_warnings.check_warnings(deps)
    assert buttons(alert) == []
    assert "edited" not in alert
    assert fake_stripe.requests == []

    # A forged click (or one from before a key change) is refused too.
    answer = await press_refund(client, fake_slack, warning)
    assert f"{mode}-mode warning and stripe-ops runs with a {key}-mode key" in answer
    test = "" if livemode else "test/"
    assert f"dashboard.stripe.com/{test}payments/{charge['id']}" in answer
    assert await requests(deps) == []
    assert fake_stripe.requests == []


async def test_the_button_goes_once_the_charge_is_disputed(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    charge = paid(fake_stripe)
    warning, alert = await warned(client, fake_slack, fake_stripe, deps, charge)
    assert buttons(alert) == [EFW_REFUND_ACTION]

    dispute = fake_stripe.add_dispute(charge["id"])
    await deliver(client, event("charge.dispute.created", copy.deepcopy(dispute)))
    await eventually(lambda: buttons(alert) == [], what="the button gone")
    assert "the charge is disputed" in text_of(alert)
    # The dispute's own card is posted as ever.
    await message_saying(fake_slack, DISPUTES, dispute["id"])

    # A click from a copy of the message still showing the button: refused.
    answer = await press_refund(client, fake_slack, warning)
    assert "no longer offers a refund" in answer
    assert await requests(deps) == []


async def test_the_button_goes_once_the_charge_is_refunded_in_full(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    charge = paid(fake_stripe)
    _, alert = await warned(client, fake_slack, fake_stripe, deps, charge)
    assert buttons(alert) == [EFW_REFUND_ACTION]

    # A partial refund: the offer stays, after another look at the charge.
    stored = fake_stripe.object(charge["id"])
    stored["amount_refunded"] = 500
    await deliver(
        client,
        event(
            "refund.created",
            {
                "id": "re_partial",
                "object": "refund",
                "amount": 500,
                "charge": charge["id"],
                "currency": "usd",
                "status": "succeeded",
            },
        ),
    )
    await message_saying(fake_slack, "CREFUNDS", "re_partial")
    assert await fraud_warnings.check_warnings(deps) == 1
    assert buttons(alert) == [EFW_REFUND_ACTION]

    stored.update(amount_refunded=2000, refunded=True)
    await deliver(client, event("charge.refunded", copy.deepcopy(stored)))
    await eventually(lambda: buttons(alert) == [], what="the button gone")
    assert "Refunded in full" in text_of(alert)


async def test_approval_is_refused_when_the_charge_was_disputed_since_the_request(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    charge = paid(fake_stripe)
    warning, _ = await warned(client, fake_slack, fake_stripe, deps, charge)
    assert "waiting for a manager" in await press_refund(client, fake_slack, warning)
    row = await only_request(deps)
    dispute = fake_stripe.add_dispute(charge["id"])

    await click(
        client,
        fake_slack,
        action_id=APPROVE_ACTION,
        value=str(row.id),
        user_id="U_MANAGER",
    )
    failed = await status_becomes(deps, row.id or 0, "failed")
    assert fake_stripe.requests_to("POST", "/v1/refunds") == []
    assert dispute["id"] in (failed.failure_message or "")
    message = await approval_message(fake_slack, row.id or 0)
    await eventually(
        lambda: "disputed after the request" in text_of(message),
        what="the request message saying why",
    )


@pytest.mark.parametrize("clock", [ManualClock()])
async def test_a_charge_stripe_would_not_give_is_checked_again_a_minute_later(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    clock: ManualClock,
) -> None:
    charge = paid(fake_stripe)
    warning = fake_stripe.add_early_fraud_warning(charge["id"])
    await deliver(
        client, event("radar.early_fraud_warning.created", copy.deepcopy(warning))
    )
    alert = await message_saying(fake_slack, DISPUTES, warning["id"])
    # Stripe down (an answer stripe-python is told not to retry).
    fake_stripe.fail_next(
        "GET", f"/v1/charges/{charge['id']}", status=500, should_retry=False
    )
    assert await fraud_warnings.check_warnings(deps) == 0
    assert buttons(alert) == []
    reads = len(fake_stripe.requests_to("GET", f"/v1/charges/{charge['id']}"))
    assert await fraud_warnings.check_warnings(deps) == 0  # not asked again yet
    assert len(fake_stripe.requests_to("GET", f"/v1/charges/{charge['id']}")) == reads

    clock.advance(fraud_warnings.RETRY_SECONDS + 1)
    assert await fraud_warnings.check_warnings(deps) == 1
    await eventually(lambda: buttons(alert) == [EFW_REFUND_ACTION], what="the offer")


def test_the_offer_confirms_what_a_click_asks_for() -> None:
    block = refund_offer("issfr_1", "ch_<!channel>")
    (button,) = block["elements"]
    assert button["text"]["text"] == "Refund…"
    shown = json.dumps(button["confirm"])
    assert "fraudulent" in shown
    assert "<!channel>" not in shown


def test_an_offer_edited_away_leaves_the_link_and_says_why() -> None:
    posted = [open_in_stripe("https://dashboard.stripe.com/test/payments/ch_1")]
    offered = with_offer(
        posted, warning_id="issfr_1", charge_id="ch_1", closed_why=None
    )
    assert [e["action_id"] for e in offered[-1]["elements"]] == [
        EFW_REFUND_ACTION,
        OPEN_IN_STRIPE_ACTION,
    ]
    # Edited from blocks that carried the button (never twice, never left).
    again = with_offer(offered, warning_id="issfr_1", charge_id="ch_1", closed_why=None)
    assert again == offered
    closed = with_offer(
        offered, warning_id="issfr_1", charge_id="ch_1", closed_why="disputed"
    )
    line, links = closed
    assert "the charge is disputed" in json.dumps(line)
    assert [e["action_id"] for e in links["elements"]] == [OPEN_IN_STRIPE_ACTION]
