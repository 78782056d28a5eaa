"""App Home: managers see requests waiting with Approve / Deny; everyone sees
open disputes by deadline with their evidence checklist, and the last alerts."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from bot.blocks.home import HOME_APPROVE_ACTION
from bot.blocks.refunds import DENY_ACTION
from bot.deps import Deps
from simulators.slack import FakeSlack
from simulators.slack_requests import block_action_body, event_callback_body
from simulators.stripe import FakeStripe
from tests.handlers.helpers import (
    command,
    eventually,
    only_request,
    post_signed,
    status_becomes,
)
from tests.handlers.test_access import home_click_body
from tests.handlers.test_disputes import deliver, seed_dispute
from tests.support import event, signed

Client = TestClient[Any, Any]


async def open_home(client: Client, fake_slack: FakeSlack, user_id: str) -> str:
    """Open the Home tab as `user_id`; returns the published view, as JSON text."""
    before = len(fake_slack.calls_to("views.publish"))
    body = event_callback_body(
        event={
            "type": "app_home_opened",
            "user": user_id,
            "tab": "home",
            "channel": "D1",
        }
    )
    await post_signed(client, body)
    calls = await fake_slack.wait_for_calls("views.publish", before + 1)
    published = calls[-1]
    assert published.args["user_id"] == user_id
    return json.dumps(published.args["view"])


async def request_refund(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> tuple[str, str]:
    customer = fake_stripe.add_customer(email="jenny@example.com", name="Jenny Rosen")
    pi, charge = fake_stripe.add_payment(customer_id=customer["id"], amount=2000)
    await command(client, fake_slack, f"refund {pi['id']} 5.00 requested_by_customer")
    return pi["id"], charge["id"]


async def test_a_manager_sees_requests_and_approves_from_home(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi_id, _ = await request_refund(client, fake_slack, fake_stripe)
    req = await eventually(lambda: only_request(deps), what="the request")
    view = await open_home(client, fake_slack, "U_MANAGER")
    assert "Refund requests waiting for a manager" in view
    assert "5.00 USD" in view
    assert pi_id in view
    assert HOME_APPROVE_ACTION in view
    assert DENY_ACTION in view

    body = block_action_body(
        action_id=HOME_APPROVE_ACTION,
        value=str(req.id),
        user_id="U_MANAGER",
        channel_id="",
        message_ts="",
        response_url="",
    )
    await post_signed(client, body)
    assert req.id is not None
    done = await status_becomes(deps, req.id, "succeeded")
    assert done.decided_by == "U_MANAGER"
    assert len(fake_stripe.refunds) == 1
    assert fake_stripe.refunds[0]["amount"] == 500
    # The tab is published again, without the request.
    calls = await fake_slack.wait_for_calls("views.publish", 2)
    assert pi_id not in json.dumps(calls[-1].args["view"])


async def test_the_requester_cannot_approve_from_home_either(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    await request_refund(client, fake_slack, fake_stripe)
    req = await eventually(lambda: only_request(deps), what="the request")
    body = block_action_body(
        action_id=HOME_APPROVE_ACTION,
        value=str(req.id),
        user_id="U_AGENT",
        channel_id="",
        message_ts="",
        response_url="",
    )
    await post_signed(client, body)
    dm = await eventually(
        lambda: [
            c
            for c in fake_slack.calls_to("chat.postMessage")
            if c.args.get("channel") == "U_AGENT"
        ],
        what="a DM to the requester",
    )
    assert "manager" in json.dumps(dm[-1].args).lower()
    assert fake_stripe.refunds == []
    assert (await only_request(deps)).status == "pending"


async def test_everyone_sees_disputes_with_checklist_and_alerts(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute_event = event("charge.dispute.created")
    body, headers = signed(dispute_event)
    assert (
        await client.post("/stripe/webhook", data=body, headers=headers)
    ).status == 200
    payout_event = event("payout.failed")
    body, headers = signed(payout_event)
    assert (
        await client.post("/stripe/webhook", data=body, headers=headers)
    ).status == 200
    await fake_slack.wait_for_calls("chat.postMessage", 2)

    view = await open_home(client, fake_slack, "U_AGENT")
    assert "Refund requests waiting" not in view  # not a manager
    assert dispute_event["data"]["object"]["id"] in view
    assert "recommended fields" in view
    assert "missing" in view
    assert "Latest alerts" in view
    assert payout_event["data"]["object"]["id"] in view


async def test_alerts_on_home_are_escaped_once(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    """An alert's stored text is already Slack mrkdwn: its date token must
    render, not show as `&lt;!date^…`."""
    dispute = seed_dispute(fake_stripe)
    await deliver(client, event("charge.dispute.created", dispute))
    await fake_slack.wait_for_calls("chat.postMessage", 1)

    view = json.loads(await open_home(client, fake_slack, "U_AGENT"))
    lines = [
        element["text"]
        for block in view["blocks"]
        if block["type"] == "context"
        for element in block["elements"]
        if dispute["id"] in element["text"]
    ]
    assert lines, view
    (line,) = lines
    assert "respond by <!date^" in line
    assert "&lt;" not in line
    assert "&amp;" not in line


def dms_to(fake_slack: FakeSlack, user_id: str) -> list[str]:
    return [
        str(c.args.get("text"))
        for c in fake_slack.calls_to("chat.postMessage")
        if c.args.get("channel") == user_id and c.status == 200
    ]


async def test_deny_on_home_for_a_decided_request_tells_the_manager(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    """Home has no response_url: the refusal comes as a DM from the app."""
    await request_refund(client, fake_slack, fake_stripe)
    req = await eventually(lambda: only_request(deps), what="the request")
    assert req.id is not None
    await post_signed(
        client,
        home_click_body(
            action_id=HOME_APPROVE_ACTION, value=str(req.id), user_id="U_MANAGER"
        ),
    )
    await status_becomes(deps, req.id, "succeeded")

    await post_signed(
        client,
        home_click_body(action_id=DENY_ACTION, value=str(req.id), user_id="U_MANAGER2"),
    )
    told = await eventually(
        lambda: dms_to(fake_slack, "U_MANAGER2"), what="a DM to the manager"
    )
    assert "already" in told[-1].lower()
    assert fake_slack.calls_to("views.open") == []
    assert (await only_request(deps)).status == "succeeded"


async def test_a_refusal_on_home_reaches_a_manager_outside_the_id_list_too(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    """Deny… on Home by someone who is not a manager: told by DM, nothing changes."""
    await request_refund(client, fake_slack, fake_stripe)
    req = await eventually(lambda: only_request(deps), what="the request")
    await post_signed(
        client,
        home_click_body(action_id=DENY_ACTION, value=str(req.id), user_id="U_AGENT2"),
    )
    told = await eventually(
        lambda: dms_to(fake_slack, "U_AGENT2"), what="a DM to the clicker"
    )
    assert "Only managers can deny" in told[-1]
    assert (await only_request(deps)).status == "pending"
