"""The server's other routes, Slack's side of it, and failure after the 200."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from bot.event_router import EventContext
from bot.server import ROUTER
from simulators.slack import FakeSlack
from simulators.slack_requests import sign, slash_command_body
from tests.conftest import _pg_admin
from tests.settle import settled
from tests.support import SIGNING_SECRET, event, signed

Client = TestClient[Any, Any]


async def test_healthz_reports_the_database(client: Client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok"}


async def _take_the_database_away(deps: Deps) -> None:
    url = deps.engine.url
    if url.get_backend_name() == "sqlite":
        # The file is overwritten by something that is not a database.
        Path(str(url.database)).write_bytes(b"not a database " * 512)
        for suffix in ("-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    await _allow_connections(deps, allow=False)


async def _allow_connections(deps: Deps, *, allow: bool) -> None:
    """PostgreSQL only: refuse (and end) or allow connections to the database."""
    name = deps.engine.url.database
    admin = await _pg_admin()
    try:
        await admin.execute(
            f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allow).lower()}'
        )
        if not allow:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}'"
            )
    finally:
        await admin.close()


async def test_healthz_is_503_when_the_database_is_gone(
    client: Client, deps: Deps
) -> None:
    await _take_the_database_away(deps)
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert await resp.json() == {"status": "error", "database": "unreachable"}
    if deps.engine.url.get_backend_name() != "sqlite":
        await _allow_connections(deps, allow=True)


async def test_no_200_for_a_webhook_that_could_not_be_stored(
    client: Client, deps: Deps, fake_slack: FakeSlack
) -> None:
    """Stripe keeps retrying what we did not store; nothing waits forever."""
    await _take_the_database_away(deps)
    events = [event("charge.succeeded") for _ in range(3)]
    async with asyncio.timeout(30):
        responses = await asyncio.gather(
            *(
                client.post("/stripe/webhook", data=b, headers=h)
                for b, h in (signed(e) for e in events)
            )
        )
    assert all(r.status >= 500 for r in responses), [r.status for r in responses]
    if deps.engine.url.get_backend_name() == "sqlite":
        return
    # Back: Stripe's retry is stored, answered 200 and alerted.
    await _allow_connections(deps, allow=True)
    body, headers = signed(events[0])
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 200
    assert (await resp.json())["duplicate"] is False
    await fake_slack.wait_for_calls("chat.postMessage", 1)


async def test_metrics_count_webhooks_by_outcome(
    client: Client, fake_slack: FakeSlack
) -> None:
    evt = event("charge.succeeded")
    for _ in range(2):
        body, headers = signed(evt)
        await client.post("/stripe/webhook", data=body, headers=headers)
    await client.post("/stripe/webhook", data=b"{}", headers={})
    await fake_slack.wait_for_calls("chat.postMessage", 1)
    text = await (await client.get("/metrics")).text()
    assert 'stripe_webhooks_total{outcome="stored"} 1.0' in text
    assert 'stripe_webhooks_total{outcome="duplicate"} 1.0' in text
    assert 'stripe_webhooks_total{outcome="rejected"} 1.0' in text
    assert "slack_outbox_depth" in text
    assert "slack_outbox_oldest_age_seconds" in text
    assert 'slack_api_calls_total{method="chat.postMessage",outcome="ok"}' in text


async def test_stripe_help_end_to_end(client: Client, fake_slack: FakeSlack) -> None:
    body = slash_command_body(text="help", response_url=fake_slack.response_url())
    resp = await client.post(
        "/slack/events", data=body, headers=sign(body, SIGNING_SECRET)
    )
    assert resp.status == 200
    answer = await resp.json()
    assert answer["response_type"] == "ephemeral"
    assert "/stripe help" in answer["text"]


async def test_unknown_subcommand_says_so_and_lists_commands(
    client: Client, fake_slack: FakeSlack
) -> None:
    body = slash_command_body(
        text="<!channel> now", response_url=fake_slack.response_url()
    )
    resp = await client.post(
        "/slack/events", data=body, headers=sign(body, SIGNING_SECRET)
    )
    answer = await resp.json()
    assert "I don't know `&lt;!channel&gt;`" in answer["text"]
    assert "<!channel>" not in answer["text"]


@pytest.mark.parametrize("secret", ["wrong-secret", None])
async def test_slack_requests_with_a_bad_signature_get_401(
    client: Client, fake_slack: FakeSlack, secret: str | None
) -> None:
    body = slash_command_body(text="help", response_url=fake_slack.response_url())
    headers = (
        sign(body, secret)
        if secret
        else {"Content-Type": "application/x-www-form-urlencoded"}
    )
    resp = await client.post("/slack/events", data=body, headers=headers)
    assert resp.status == 401


async def test_a_failure_after_the_200_is_retried_not_dropped(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    calls: list[str] = []

    async def flaky(ctx: EventContext) -> None:
        calls.append(ctx.id)
        if len(calls) <= 3:
            raise RuntimeError("transient trouble")

    assert client.app is not None
    client.app[ROUTER].add("charge.succeeded", flaky)
    evt = event("charge.succeeded")
    body, headers = signed(evt)
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 200
    (call,) = await fake_slack.wait_for_calls("chat.postMessage", 1)
    assert evt["id"] in json.dumps(call.args)
    assert len(calls) > 3
    text = await (await client.get("/metrics")).text()
    failures = re.search(
        r'^stripe_event_processing_failures_total\{type="charge.succeeded"\} (\S+)$',
        text,
        re.M,
    )
    assert failures is not None
    assert float(failures.group(1)) >= 1
    await settled(deps, fake_slack)  # a second alert would be out by now
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
