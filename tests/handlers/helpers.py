"""Driving the bot as Slack does: signed commands, clicks and modal submissions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlmodel import col

from bot.deps import Deps
from simulators.slack import FakeSlack
from simulators.slack_requests import (
    block_action_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from storage.models import AuditLog, RefundRequest
from tests.support import SIGNING_SECRET

Client = TestClient[Any, Any]
Json = dict[str, Any]

APPROVALS = "CAPPROVALS"


async def post_signed(client: Client, body: str) -> Any:
    resp = await client.post(
        "/slack/events", data=body, headers=sign(body, SIGNING_SECRET)
    )
    assert resp.status == 200, await resp.text()
    return resp


async def command(
    client: Client,
    fake_slack: FakeSlack,
    text: str,
    *,
    user_id: str = "U_AGENT",
    channel_id: str = "C_SUPPORT",
) -> Json:
    """Run `/stripe <text>` and return the first answer sent to its response_url."""
    url = fake_slack.response_url()
    body = slash_command_body(
        text=text, response_url=url, user_id=user_id, channel_id=channel_id
    )
    await post_signed(client, body)
    (answer, *_) = await fake_slack.wait_for_response(url, timeout=15)
    return answer


async def click(
    client: Client,
    fake_slack: FakeSlack,
    *,
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str = APPROVALS,
    message_ts: str = "1700000000.000100",
    trigger_id: str = "T.trig",
) -> str:
    """Click a button; returns the click's response_url."""
    url = fake_slack.response_url()
    body = block_action_body(
        action_id=action_id,
        value=value,
        user_id=user_id,
        channel_id=channel_id,
        message_ts=message_ts,
        response_url=url,
        trigger_id=trigger_id,
    )
    await post_signed(client, body)
    return url


async def submit(
    client: Client,
    *,
    callback_id: str,
    user_id: str,
    values: dict[str, Any],
    private_metadata: str,
) -> Any:
    """Submit a modal: `values` is {block_id: value or ("select", value)}."""
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for block, value in values.items():
        if isinstance(value, tuple):
            element = {
                "type": "static_select",
                "selected_option": {"value": value[1]} if value[1] else None,
            }
        else:
            element = {"type": "plain_text_input", "value": value}
        state[block] = {block: element}
    body = view_submission_body(
        callback_id=callback_id,
        state_values=state,
        user_id=user_id,
        private_metadata=private_metadata,
    )
    return await post_signed(client, body)


def text_of(message: Json) -> str:
    """Everything a person reads in a message, as one string."""
    return json.dumps(
        {"text": message.get("text"), "blocks": message.get("blocks")},
        ensure_ascii=False,
    )


async def eventually(
    check: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition"
) -> Any:
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def channel_messages(fake_slack: FakeSlack, channel: str) -> list[Json]:
    return list(fake_slack.messages.get(channel, []))


async def approval_message(fake_slack: FakeSlack, request_id: int) -> Json:
    """The approval request's message in the approvals channel, once posted."""

    def find() -> Json | None:
        for msg in channel_messages(fake_slack, APPROVALS):
            if msg.get("thread_ts") is None and f"#{request_id}" in text_of(msg):
                return msg
        return None

    found: Json = await eventually(find, what=f"approval message #{request_id}")
    return found


async def message_saying(
    fake_slack: FakeSlack, channel: str, needle: str, *, thread_ts: str | None = None
) -> Json:
    """Wait for a message in `channel` containing needle: a top-level one, or
    one in the thread of `thread_ts`."""

    def find() -> Json | None:
        for msg in channel_messages(fake_slack, channel):
            if msg.get("thread_ts") != thread_ts:
                continue
            if needle in text_of(msg):
                return msg
        return None

    found: Json = await eventually(find, what=f"{needle!r} in {channel}")
    return found


async def requests(deps: Deps) -> list[RefundRequest]:
    async with deps.sessions() as session:
        rows = await session.execute(
            select(RefundRequest).order_by(col(RefundRequest.id))
        )
        return list(rows.scalars().all())


async def only_request(deps: Deps) -> RefundRequest:
    (row,) = await requests(deps)
    return row


async def request_row(deps: Deps, request_id: int) -> RefundRequest:
    async with deps.sessions() as session:
        row = await session.get(RefundRequest, request_id)
    assert row is not None
    return row


async def status_becomes(deps: Deps, request_id: int, status: str) -> RefundRequest:
    async def check() -> RefundRequest | None:
        row = await request_row(deps, request_id)
        return row if row.status == status else None

    found: RefundRequest = await eventually(
        check, what=f"request {request_id} to be {status}"
    )
    return found


async def audit_actions(deps: Deps, request_id: int) -> list[tuple[str, str]]:
    """(actor, action) of every audit entry of a request, oldest first."""
    async with deps.sessions() as session:
        rows = await session.execute(
            select(AuditLog)
            .where(col(AuditLog.subject) == f"refund_request:{request_id}")
            .order_by(col(AuditLog.id))
        )
        return [(r.actor, r.action) for r in rows.scalars().all()]
