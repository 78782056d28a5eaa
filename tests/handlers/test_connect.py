"""Test and live, Connect accounts and Dashboard links, end to end: signed
webhooks and commands in, the fake Stripe (which scopes objects by
`Stripe-Account`) and the fake Slack out, on both databases."""

from __future__ import annotations

import copy
import json
import time

import pytest

from bot.blocks import OPEN_IN_STRIPE_ACTION
from bot.blocks import disputes as blocks
from bot.blocks.refunds import (
    AMOUNT_INPUT,
    OPEN_MODAL_ACTION,
    REASON_INPUT,
    REQUEST_CALLBACK,
)
from bot.deps import Deps
from handlers.jobs.refunds import retry_approved
from simulators.slack import FakeSlack
from simulators.slack_requests import block_action_body, sign
from simulators.stripe import FakeStripe, StripeRequest
from tests.conftest import ManualClock
from tests.handlers.helpers import (
    Client,
    Json,
    click,
    command,
    eventually,
    message_saying,
    request_row,
    requests,
    status_becomes,
    submit,
    text_of,
)
from tests.handlers.test_dispute_evidence import PDF, file_input, form, text_input
from tests.handlers.test_disputes import (
    action_ids,
    card_saying,
    deliver,
    dispute_row,
    opened_view,
    posted_card,
    press,
    seed_dispute,
    submit_view,
    view_update_saying,
)
from tests.handlers.test_refunds import approve, paid, request
from tests.settle import bolt_idle
from tests.support import SIGNING_SECRET, STRIPE_KEY, dispute, event

BASE = "https://dashboard.stripe.com"


def link_button(message: Json) -> str:
    """The URL of the message's *Open in Stripe* button."""
    (url,) = [
        element["url"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == OPEN_IN_STRIPE_ACTION
    ]
    return str(url)


def connected(fake_stripe: FakeStripe, name: str = "Bob's Bikes") -> str:
    return str(fake_stripe.add_connected_account(name=name)["id"])


def about(fake_stripe: FakeStripe, *ids: str) -> list[StripeRequest]:
    """Every request the fake got about these objects (or a file upload)."""
    return [
        r
        for r in fake_stripe.requests
        if r.path == "/v1/files"
        or any(i in r.path or i in json.dumps(r.params) for i in ids)
    ]


async def open_connect_dispute(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, account: str
) -> tuple[Json, Json]:
    """A dispute in the connected account, its event delivered; (dispute, card)."""
    with fake_stripe.on_account(account):
        obj = seed_dispute(fake_stripe)
    evt = event(
        "charge.dispute.created",
        copy.deepcopy(obj),
        created=int(time.time()) - 30,
        account=account,
    )
    await deliver(client, evt)
    return obj, await posted_card(fake_slack, obj["id"])


# -- the fake honours Stripe-Account ------------------------------------------------


async def test_the_fake_scopes_objects_by_stripe_account(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    account = connected(fake_stripe)
    with fake_stripe.on_account(account):
        pi, _ = paid(fake_stripe)
    # Asked on the platform, the connected account's payment does not exist.
    answer = await command(client, fake_slack, f"refund {pi['id']} 5.00")
    assert f"Stripe has no payment `{pi['id']}`" in answer["text"]
    assert "needs `--account acct_…`" in answer["text"]
    (read,) = fake_stripe.requests_to("GET", f"/v1/payment_intents/{pi['id']}")
    assert read.stripe_account is None
    # An account that is not connected to the platform is refused.
    answer = await command(
        client, fake_slack, f"refunds {pi['id']} --account acct_1NotOurs"
    )
    assert "does not have access" in answer["text"] or "not allowed" in answer["text"]
    assert fake_stripe.requests[-1].stripe_account == "acct_1NotOurs"


# -- alerts and dispute cards ---------------------------------------------------------


async def test_a_connect_dispute_card_names_the_account_and_every_call_has_it(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    account = connected(fake_stripe)
    obj, card = await open_connect_dispute(client, fake_stripe, fake_slack, account)
    said = text_of(card)
    assert "Connected account *Bob's Bikes*" in said
    assert link_button(card) == f"{BASE}/{account}/test/disputes/{obj['id']}"
    assert f"{BASE}/{account}/test/payments/{obj['charge']}" in said
    assert "Test mode" in said
    (name_read,) = fake_stripe.requests_to("GET", f"/v1/accounts/{account}")
    assert name_read.stripe_account is None  # the platform reads its account
    row = await dispute_row(deps, obj["id"])
    assert (row.account, row.account_name) == (account, "Bob's Bikes")

    # Evidence: the form reads the charge, saving uploads a file and stages
    # it, submitting sends it; each in the connected account.
    await press(client, fake_slack, blocks.ACTION_EDIT, obj["id"])
    await view_update_saying(fake_slack, "", "Tracking number")
    label = fake_slack.add_file(
        PDF, name="label.pdf", mimetype="application/pdf", filetype="pdf"
    )
    await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        obj["id"],
        state=form(
            shipping_carrier=text_input("UPS"),
            shipping_documentation=file_input(label),
        ),
    )
    await view_update_saying(fake_slack, "V_DISPUTE", "Saved on Stripe")
    await submit_view(client, blocks.VIEW_SUBMIT, obj["id"])
    await view_update_saying(fake_slack, "V_DISPUTE", "submitted to Stripe by")
    on_stripe = fake_stripe.object(obj["id"])
    assert on_stripe["status"] == "under_review"
    assert on_stripe["evidence"]["shipping_carrier"] == "UPS"
    # (The card's own status is not checked here: a save and a submission in
    # the same second tie as snapshots, a limit of bot.disputes.state.)

    calls = about(fake_stripe, obj["id"], obj["charge"])
    kinds = {(r.method, r.path.split("/")[2]) for r in calls}
    assert {
        ("GET", "charges"),
        ("POST", "files"),
        ("POST", "disputes"),
    } <= kinds
    assert [r.stripe_account for r in calls] == [account] * len(calls)
    # The edited card still names the account (the name is kept on the row).
    assert "Bob's Bikes" in text_of(fake_slack.message("CDISPUTES", card["ts"]))


async def test_accepting_a_connect_dispute_closes_it_in_its_account(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    account = connected(fake_stripe)
    obj, card = await open_connect_dispute(client, fake_stripe, fake_slack, account)
    await press(
        client, fake_slack, blocks.ACTION_ACCEPT, obj["id"], user_id="U_MANAGER"
    )
    await opened_view(fake_slack)
    await submit_view(client, blocks.VIEW_ACCEPT, obj["id"], user_id="U_MANAGER")
    await card_saying(fake_slack, card, "Dispute accepted (lost)")
    (close,) = fake_stripe.requests_to("POST", f"/v1/disputes/{obj['id']}/close")
    assert close.stripe_account == account
    assert fake_stripe.object(obj["id"])["status"] == "lost"


async def test_a_key_that_may_not_read_accounts_shows_the_account_id(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    fake_stripe.api_keys[STRIPE_KEY] = frozenset(
        {"rak_charge_read", "rak_dispute_write", "rak_customer_read"}
    )
    account = connected(fake_stripe)
    obj, card = await open_connect_dispute(client, fake_stripe, fake_slack, account)
    said = text_of(card)
    assert f"Connected account <{BASE}/test/connect/accounts/{account}|" in said
    assert "Bob's Bikes" not in said
    (refused,) = fake_stripe.requests_to("GET", f"/v1/accounts/{account}")
    assert refused.api_key == STRIPE_KEY
    assert link_button(card) == f"{BASE}/{account}/test/disputes/{obj['id']}"


async def test_a_live_dispute_with_a_test_key_has_no_buttons_that_call_stripe(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    obj = dispute(livemode=True)
    await deliver(client, event("charge.dispute.created", obj, livemode=True))
    card = await posted_card(fake_slack, obj["id"])
    said = text_of(card)
    assert "*live-mode* object, and stripe-ops runs with a test-mode key" in said
    assert action_ids(card) == []
    assert link_button(card) == f"{BASE}/disputes/{obj['id']}"
    assert "Test mode" not in said
    # `/stripe dispute` shows it the same way (from what is stored).
    row = await dispute_row(deps, obj["id"])
    assert row.livemode is True


async def test_alerts_link_to_the_dashboard_in_test_live_and_connect(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    account = connected(fake_stripe, name="Alice's Atelier")
    test = event("charge.succeeded", _charge("ch_3TestOne"))
    live = event("charge.succeeded", _charge("ch_3LiveOne", True), livemode=True)
    conn = event("charge.succeeded", _charge("ch_3ConnOne"), account=account)
    for evt in (test, live, conn):
        await deliver(client, evt)
    posted = {
        obj_id: await _alert_for(fake_slack, obj_id)
        for obj_id in ("ch_3TestOne", "ch_3LiveOne", "ch_3ConnOne")
    }
    assert link_button(posted["ch_3TestOne"]) == f"{BASE}/test/payments/ch_3TestOne"
    assert "Test mode" in text_of(posted["ch_3TestOne"])
    assert link_button(posted["ch_3LiveOne"]) == f"{BASE}/payments/ch_3LiveOne"
    assert "test-mode key" in text_of(posted["ch_3LiveOne"])
    assert link_button(posted["ch_3ConnOne"]) == (
        f"{BASE}/{account}/test/payments/ch_3ConnOne"
    )
    assert "Connected account *Alice's Atelier*" in text_of(posted["ch_3ConnOne"])


def _charge(charge_id: str, livemode: bool = False) -> Json:
    from tests.support import charge

    return charge(id=charge_id, livemode=livemode)


async def _alert_for(fake_slack: FakeSlack, object_id: str) -> Json:
    def find() -> Json | None:
        for message in fake_slack.messages.get("CPAYMENTS", []):
            if object_id in text_of(message):
                return message
        return None

    found: Json = await eventually(find, what=f"alert for {object_id}")
    return found


# -- refunds ------------------------------------------------------------------------


async def test_a_connect_refund_carries_the_account_from_request_to_refund(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    account = connected(fake_stripe)
    with fake_stripe.on_account(account):
        pi, charge = paid(fake_stripe)
    request_id, message = await request(
        client, fake_slack, deps, f"{pi['id']} 5.00 --account {account}"
    )
    said = text_of(message)
    assert "Connected account *Bob's Bikes*" in said
    assert "Test mode" in said
    assert link_button(message) == f"{BASE}/{account}/test/payments/{pi['id']}"
    row = await request_row(deps, request_id)
    assert (row.account, row.amount) == (account, 500)

    await approve(client, fake_slack, request_id)
    done = await status_becomes(deps, request_id, "succeeded")
    assert done.refund_id is not None
    (created,) = fake_stripe.requests_to("POST", "/v1/refunds")
    assert created.stripe_account == account
    with fake_stripe.on_account(account):
        assert fake_stripe.object(done.refund_id)["charge"] == charge["id"]

    # `/stripe refunds … --account` lists them in the same account.
    answer = await command(
        client, fake_slack, f"refunds {pi['id']} --account {account}"
    )
    assert done.refund_id in text_of(answer)
    assert f"{BASE}/{account}/test/refunds/{done.refund_id}" in text_of(answer)

    calls = about(fake_stripe, pi["id"], charge["id"])
    kinds = {(r.method, r.path.split("/")[2]) for r in calls}
    # The lookup, the re-check before refunding, the refund, the listing.
    assert {
        ("GET", "payment_intents"),
        ("GET", "charges"),
        ("POST", "refunds"),
        ("GET", "refunds"),
    } <= kinds
    assert [r.stripe_account for r in calls] == [account] * len(calls)


async def test_a_platform_refund_request_links_to_its_test_payment(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5.00")
    assert link_button(message) == f"{BASE}/test/payments/{pi['id']}"
    assert "Test mode" in text_of(message)
    assert "Connected account" not in text_of(message)
    assert (await request_row(deps, request_id)).account is None
    assert all(r.stripe_account is None for r in fake_stripe.requests)


# -- commands -------------------------------------------------------------------------


async def test_customer_and_dispute_commands_look_in_the_connected_account(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    account = connected(fake_stripe)
    with fake_stripe.on_account(account):
        obj = seed_dispute(fake_stripe, name="Connie Connect", email="connie@ex.com")
    answer = await command(client, fake_slack, "customer connie@ex.com")
    assert "Nothing in Stripe matches" in answer["text"]

    answer = await command(
        client, fake_slack, f"customer connie@ex.com --account {account}"
    )
    said = text_of(answer)
    assert "Connie Connect" in said
    assert f"In connected account `{account}`" in said
    assert f"{BASE}/{account}/test/customers/" in said
    assert f"dispute {obj['id']} --account {account}" in said

    answer = await command(
        client, fake_slack, f"dispute {obj['id']} --account={account}"
    )
    assert "Connected account *Bob's Bikes*" in text_of(answer)
    assert action_ids(answer) == [
        blocks.ACTION_EDIT,
        blocks.ACTION_SUBMIT,
        blocks.ACTION_ACCEPT,
        blocks.ACTION_TAKE,
    ]
    row = await dispute_row(deps, obj["id"])
    assert row.account == account

    calls = about(fake_stripe, obj["id"], obj["charge"], "connie@ex.com")
    with_account = [r for r in calls if r.stripe_account == account]
    without = [r for r in calls if r.stripe_account is None]
    # Only the first customer lookup (no --account) was on the platform.
    assert [r.path for r in without] == ["/v1/customers"]
    assert with_account


async def test_a_malformed_account_is_refused_before_stripe_is_asked(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    for text in (
        "customer jenny@example.com --account cus_123",
        "refund pi_123 5.00 --account",
        "refunds pi_123 --account acct_1/../x",
        "dispute dp_123 --account acct_1 --account acct_2",
    ):
        answer = await command(client, fake_slack, text)
        assert "not a connected account ID" in answer["text"], text
    assert fake_stripe.requests == []


async def test_slack_turning_the_dashes_into_a_dash_is_understood(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    account = connected(fake_stripe)
    with fake_stripe.on_account(account):
        pi, _ = paid(fake_stripe)
    answer = await command(client, fake_slack, f"refunds {pi['id']} —account {account}")
    assert "No refunds" in text_of(answer)
    assert fake_stripe.requests[-1].stripe_account == account


async def test_a_click_on_open_in_stripe_is_acknowledged_and_does_nothing(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    url = fake_slack.response_url()
    body = block_action_body(
        action_id=OPEN_IN_STRIPE_ACTION,
        value="",
        user_id="U_AGENT",
        channel_id="CPAYMENTS",
        message_ts="1700000000.000100",
        response_url=url,
    )
    resp = await client.post(
        "/slack/events", data=body, headers=sign(body, SIGNING_SECRET)
    )
    assert resp.status == 200  # unanswered, Slack would show the clicker an error
    await bolt_idle()
    assert fake_slack.responses.get(url, []) == []
    assert fake_stripe.requests == []


async def test_the_refund_form_from_a_connect_lookup_asks_in_that_account(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    account = connected(fake_stripe)
    with fake_stripe.on_account(account):
        pi, charge = paid(fake_stripe)
    answer = await command(
        client, fake_slack, f"customer {pi['id']} --account {account}"
    )
    (button,) = [
        element
        for block in answer["blocks"]
        if block.get("accessory", {}).get("action_id") == OPEN_MODAL_ACTION
        for element in [block["accessory"]]
    ]
    assert json.loads(button["value"])["a"] == account
    await click(
        client,
        fake_slack,
        action_id=OPEN_MODAL_ACTION,
        value=button["value"],
        user_id="U_AGENT",
        channel_id="C_SUPPORT",
    )
    (opened,) = await fake_slack.wait_for_calls("views.open", 1)
    await submit(
        client,
        callback_id=REQUEST_CALLBACK,
        user_id="U_AGENT",
        values={AMOUNT_INPUT: "4.50", REASON_INPUT: ("select", "duplicate")},
        private_metadata=opened.args["view"]["private_metadata"],
    )
    (row,) = await eventually(lambda: requests(deps), what="the request")
    assert (row.account, row.amount, row.account_name) == (account, 450, "Bob's Bikes")
    calls = about(fake_stripe, pi["id"], charge["id"])
    assert [r.stripe_account for r in calls] == [account] * len(calls)


async def test_a_forged_account_in_a_refund_button_is_refused(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    value = json.dumps({"p": "pi_123", "c": "usd", "r": 100, "a": "acct_1/../x"})
    url = await click(
        client,
        fake_slack,
        action_id=OPEN_MODAL_ACTION,
        value=value,
        user_id="U_AGENT",
        channel_id="C_SUPPORT",
    )
    (told, *_) = await fake_slack.wait_for_response(url)
    assert "payment" in told["text"]
    assert fake_slack.calls_to("views.open") == []
    assert fake_stripe.requests == []


@pytest.mark.parametrize("clock", [ManualClock()])
async def test_a_connect_refund_whose_answer_was_lost_is_found_in_its_account(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    deps: Deps,
    clock: ManualClock,
) -> None:
    account = connected(fake_stripe)
    with fake_stripe.on_account(account):
        pi, charge = paid(fake_stripe)
    request_id, _ = await request(
        client, fake_slack, deps, f"{pi['id']} 5 --account {account}"
    )
    # Stripe refunds, but the answer is lost on the way back.
    fake_stripe.fail_next(
        "POST", "/v1/refunds", status=500, after_execute=True, should_retry=False
    )
    await approve(client, fake_slack, request_id)
    await message_saying(fake_slack, "CAPPROVALS", "Stripe did not answer")
    clock.advance(3600)
    await retry_approved(deps)
    row = await request_row(deps, request_id)
    assert row.status == "succeeded"
    # The retry looked for its refund in the connected account, and found it.
    (listing,) = fake_stripe.requests_to("GET", "/v1/refunds")
    assert listing.stripe_account == account
    assert len(fake_stripe.requests_to("POST", "/v1/refunds")) == 1
    calls = about(fake_stripe, pi["id"], charge["id"])
    assert [r.stripe_account for r in calls] == [account] * len(calls)


async def test_answering_a_dispute_the_key_cannot_reach_is_refused_unclaimed(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    # Buttons from an older card, or a forged click: refused on the server too.
    obj = dispute(livemode=True)
    await deliver(client, event("charge.dispute.created", obj, livemode=True))
    await posted_card(fake_slack, obj["id"])
    await press(client, fake_slack, blocks.ACTION_SUBMIT, obj["id"])
    refusal = await opened_view(fake_slack)
    said = json.dumps(refusal)
    assert "live-mode dispute and stripe-ops runs with a test-mode key" in said
    assert f"{BASE}/disputes/{obj['id']}" in said
    for callback in (blocks.VIEW_SUBMIT, blocks.VIEW_ACCEPT):
        answer = await submit_view(client, callback, obj["id"], user_id="U_MANAGER")
        assert "test-mode key, which cannot act on it" in json.dumps(answer["view"])
    answer = await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        obj["id"],
        state=form(shipping_carrier=text_input("UPS")),
    )
    assert "cannot act on it" in json.dumps(answer["view"])
    row = await dispute_row(deps, obj["id"])
    assert (row.submitted_by, row.accepted_by) == (None, None)
    assert fake_stripe.requests == []
