"""`/stripe webhooks`: the same audit as `check`, in Slack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.webhook_audit import RECOMMENDED_EVENTS
from simulators.slack import FakeSlack
from simulators.slack_requests import sign, slash_command_body
from simulators.stripe import FakeStripe
from tests.support import SIGNING_SECRET

Client = TestClient[Any, Any]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"PUBLIC_URL": "https://ops.example.com"}


async def ask(client: Client, fake_slack: FakeSlack) -> dict[str, Any]:
    url = fake_slack.response_url()
    body = slash_command_body(text="webhooks", response_url=url)
    resp = await client.post(
        "/slack/events", data=body, headers=sign(body, SIGNING_SECRET)
    )
    assert resp.status == 200
    (answer,) = await fake_slack.wait_for_response(url)
    return answer


async def test_each_endpoint_with_its_missing_events(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    fake_stripe.add_webhook_endpoint(
        url="https://ops.example.com/stripe/webhook",
        enabled_events=[e for e in RECOMMENDED_EVENTS if e != "payout.failed"],
    )
    fake_stripe.add_webhook_endpoint(
        url="https://old.example.com/<!channel>",
        enabled_events=["*"],
        status="disabled",
    )
    answer = await ask(client, fake_slack)
    assert answer["response_type"] == "ephemeral"
    shown = json.dumps(answer["blocks"])
    assert "misses events" in answer["text"]
    assert "*this bot*" in shown
    assert "Missing 1: `payout.failed`" in shown
    assert "*disabled*" in shown
    assert "&lt;!channel&gt;" in shown
    assert "<!channel>" not in shown


async def test_all_good(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    fake_stripe.add_webhook_endpoint(
        url="https://ops.example.com/stripe/webhook", enabled_events=["*"]
    )
    answer = await ask(client, fake_slack)
    assert "Stripe sends every recommended event here" in answer["text"]


async def test_a_key_without_the_permission_names_it(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    # The bot's key loses the permission after start-up.
    fake_stripe.api_keys["sk_test_fake"] = frozenset({"rak_charge_read"})
    answer = await ask(client, fake_slack)
    assert "Webhook Endpoints: Read" in answer["text"]
    assert "rak_webhook_read" in answer["text"]
