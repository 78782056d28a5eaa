"""Bad input from Slack gets a clear answer, never a 500."""

from __future__ import annotations

import pytest

from tests.fakes.slack import FakeSlack
from tests.fakes.slack_requests import (
    sign,
    slash_command_body,
)
from tests.handlers.helpers import Client, post_signed
from tests.support import SIGNING_SECRET

# -- request bodies ---------------------------------------------------------------

BAD_BODIES: list[tuple[str, bytes, bool]] = [
    ("not UTF-8, unsigned", b"payload=%7B%7D\xff", False),
    ("not UTF-8, signed", b"payload=%7B%7D\xff", True),
    ("payload not JSON", b"payload=%7Bnot", True),
    ("payload a JSON array", b"payload=%5B%5D", True),
    ("JSON body not JSON", b"{not json", True),
    ("JSON nested too deep", b"{" + b'"a":[' * 5000 + b"]" * 5000 + b"}", True),
]


@pytest.mark.parametrize(
    ("label", "body", "signed"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
async def test_a_body_that_is_not_a_slack_request_gets_400(
    client: Client, fake_slack: FakeSlack, label: str, body: bytes, signed: bool
) -> None:
    text = body.decode("utf-8", errors="replace")
    headers = (
        sign(text, SIGNING_SECRET)
        if signed
        else {"Content-Type": "application/x-www-form-urlencoded"}
    )
    resp = await client.post("/slack/events", data=body, headers=headers)
    assert resp.status == 400, (label, await resp.text())
    assert "not a Slack request" in (await resp.json())["error"]
    # The route still serves the next good request.
    help_body = slash_command_body(text="help", response_url=fake_slack.response_url())
    answer = await (await post_signed(client, help_body)).json()
    assert "/stripe customer" in answer["text"]
