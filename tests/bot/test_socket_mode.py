"""Socket Mode: with SLACK_APP_TOKEN the bot takes Slack's requests over a
websocket and serves no /slack/events route."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp.test_utils import TestClient

from simulators.slack import FakeSlack
from simulators.slack_requests import slash_command_body


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"SLACK_APP_TOKEN": "xapp-1-A0001-socket", "SLACK_SIGNING_SECRET": ""}


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


async def test_stripe_help_over_socket_mode(
    client: TestClient[Any, Any], fake_slack: FakeSlack
) -> None:
    (opened,) = await fake_slack.wait_for_calls("apps.connections.open", 1)
    assert opened.token == "xapp-1-A0001-socket"
    for _ in range(100):  # the websocket says hello, then the bot is ready
        if fake_slack._sockets:
            break
        await asyncio.sleep(0.05)
    body = slash_command_body(text="help", response_url=fake_slack.response_url())
    payload = {k: v[0] for k, v in parse_qs(body).items()}
    await fake_slack.socket_send(
        {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": payload,
        }
    )
    for _ in range(100):
        acks = [
            m for m in fake_slack.socket_received if m.get("envelope_id") == "env-1"
        ]
        if acks:
            break
        await asyncio.sleep(0.05)
    assert acks, "the bot did not acknowledge the envelope"
    assert "/stripe help" in acks[0]["payload"]["text"]

    resp = await client.post("/slack/events", data=body)
    assert resp.status in (404, 405)
