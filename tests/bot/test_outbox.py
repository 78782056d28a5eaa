"""The Slack outbox: slow, rate-limiting or absent Slack loses no alert."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.deps import Deps
from bot.server import Options
from bot.workers import WorkerPolicy
from tests.conftest import AppFactory
from tests.fakes.slack import FakeSlack
from tests.support import event, signed

Client = TestClient[Any, Any]


async def post(client: Client, evt: dict[str, Any]) -> None:
    body, headers = signed(evt)
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 200


def event_ids_posted(fake_slack: FakeSlack) -> list[str]:
    """Every event id named in a successful post, once per post it is in."""
    ids: list[str] = []
    for call in fake_slack.calls_to("chat.postMessage"):
        if call.status == 200 and call.response and call.response.get("ok"):
            ids += sorted(set(re.findall(r"evt_T\d+", json.dumps(call.args))))
    return ids


async def wait_until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_429_retry_after_is_honoured(
    client: Client, fake_slack: FakeSlack
) -> None:
    # slack-sdk's handler retries once after Retry-After; the outbox waits out
    # the second 429 itself. Both waits must be at least Retry-After long.
    fake_slack.fail_next("chat.postMessage", status=429, count=2, retry_after=1)
    evt = event("payout.failed")
    await post(client, evt)
    await wait_until(lambda: evt["id"] in event_ids_posted(fake_slack))
    posts = fake_slack.calls_to("chat.postMessage")
    assert [c.status for c in posts] == [429, 429, 200]
    gaps = [b.at - a.at for a, b in zip(posts, posts[1:], strict=False)]
    assert all(gap >= 1.0 for gap in gaps), gaps


async def test_server_errors_are_retried_until_delivered(
    client: Client, fake_slack: FakeSlack
) -> None:
    fake_slack.fail_next("chat.postMessage", status=500, count=5)
    evt = event("charge.failed")
    await post(client, evt)
    await wait_until(lambda: evt["id"] in event_ids_posted(fake_slack))
    assert event_ids_posted(fake_slack).count(evt["id"]) == 1


async def test_slack_down_then_back_delivers_everything_once(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    await fake_slack.go_down()
    events = [event("payment_intent.succeeded") for _ in range(5)]
    for evt in events:
        await post(client, evt)
    await asyncio.sleep(0.5)
    metrics = await (await client.get("/metrics")).text()
    depth = re.search(r"^slack_outbox_depth (\S+)$", metrics, re.M)
    assert depth is not None
    assert float(depth.group(1)) == 5
    await fake_slack.come_back()
    await wait_until(
        lambda: all(e["id"] in event_ids_posted(fake_slack) for e in events)
    )
    posted = event_ids_posted(fake_slack)
    assert sorted(posted) == sorted(e["id"] for e in events)


@pytest.fixture
def options() -> Options:
    # Slack's real pacing: about one message per second per channel.
    return Options(
        policy=WorkerPolicy(
            poll_seconds=0.05,
            channel_interval=1.0,
            retry_base=0.05,
            retry_cap=0.5,
        )
    )


async def test_an_alert_storm_becomes_digests_naming_every_event(
    client: Client, fake_slack: FakeSlack
) -> None:
    events = [event("charge.succeeded") for _ in range(500)]
    for i in range(0, 500, 50):
        await asyncio.gather(*(post(client, e) for e in events[i : i + 50]))
    wanted = {e["id"] for e in events}
    await wait_until(lambda: wanted <= set(event_ids_posted(fake_slack)), 60)
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.status == 200]
    assert len(posts) <= 30, f"{len(posts)} posts for 500 events"
    assert sorted(event_ids_posted(fake_slack)) == sorted(wanted)
    assert {c.args["channel"] for c in posts} == {"CPAYMENTS"}
    gaps = [b.at - a.at for a, b in zip(posts, posts[1:], strict=False)]
    assert min(gaps) >= 0.9, "more than about one post per second in a channel"


async def test_alerts_survive_a_restart_with_slack_down(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory
) -> None:
    await fake_slack.go_down()
    first = await start_app(settings)
    events = [event("refund.failed") for _ in range(3)]
    for evt in events:
        await post(first, evt)
    await asyncio.sleep(0.5)
    await first.close()  # stopped with every alert still unsent

    await fake_slack.come_back()
    await start_app(settings)
    await wait_until(
        lambda: sorted(event_ids_posted(fake_slack)) == sorted(e["id"] for e in events)
    )


async def test_two_instances_on_one_database_alert_once(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory
) -> None:
    if settings.DATABASE_URL.startswith("sqlite"):
        pytest.skip("several instances need PostgreSQL; SQLite runs one")
    a = await start_app(settings)
    b = await start_app(settings)
    events = [event("charge.succeeded") for _ in range(40)]
    await asyncio.gather(
        *(post(a if i % 2 else b, e) for i, e in enumerate(events)),
        *(post(b if i % 2 else a, e) for i, e in enumerate(events)),
    )
    wanted = sorted(e["id"] for e in events)
    await wait_until(lambda: set(wanted) <= set(event_ids_posted(fake_slack)))
    await asyncio.sleep(0.5)
    assert sorted(event_ids_posted(fake_slack)) == wanted


async def test_blocks_slack_refuses_fall_back_to_the_text(
    client: Client, fake_slack: FakeSlack
) -> None:
    fake_slack.fail_next("chat.postMessage", status=200, error="invalid_blocks")
    evt = event("payout.paid")
    await post(client, evt)
    await wait_until(lambda: len(fake_slack.calls_to("chat.postMessage")) >= 2)
    first, second = fake_slack.calls_to("chat.postMessage")[:2]
    assert first.args.get("blocks")
    assert not second.args.get("blocks")
    assert evt["data"]["object"]["id"] in second.args["text"]
