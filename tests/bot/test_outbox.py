"""The Slack outbox: slow, rate-limiting or absent Slack loses no alert."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.deps import Deps
from bot.server import DEPS, Options
from bot.workers import WorkerPolicy
from simulators.slack import FakeSlack
from storage import outbox
from storage.models import OutboxMessage
from tests.conftest import FAST, AppFactory
from tests.settle import events_processed, settled, slack_idle
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
    await events_processed(deps, len(events))  # every alert is in the outbox
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
            unknown_outcome_wait=0.05,
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
    await events_processed(first.app[DEPS], len(events))
    await first.close()  # stopped with every alert queued and still unsent

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
    # Nothing left to send, then nobody left to send it: a second post of any
    # alert would have been made by now.
    await settled(a.app[DEPS], fake_slack)
    await a.close()
    await b.close()
    await slack_idle(fake_slack)
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


# -- a post whose answer we never saw is looked for, not sent again ----------------


async def outbox_rows(app: Client) -> list[OutboxMessage]:
    deps = app.app[DEPS]
    async with deps.sessions() as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
    return sorted(rows, key=lambda r: r.id or 0)


async def all_sent(
    app: Client, count: int, timeout: float = 20.0
) -> list[OutboxMessage]:
    """Wait until `count` outbox rows exist and every one is recorded as sent."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await outbox_rows(app)
        if len(rows) >= count and all(r.status == "sent" for r in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not all sent: {[(r.key, r.status, r.last_error) for r in rows]}"
            )
        await asyncio.sleep(0.05)


def shown(fake_slack: FakeSlack, channel: str, needle: str) -> list[dict[str, Any]]:
    """Messages in the channel (threads included) that name `needle`."""
    return [
        m
        for m in fake_slack.messages.get(channel, [])
        if needle in json.dumps({"text": m.get("text"), "blocks": m.get("blocks")})
    ]


async def queue(settings: Settings, *messages: dict[str, Any]) -> None:
    """Put messages in the outbox as the app would, before the app starts."""
    deps = Deps.create(settings)
    try:
        async with deps.sessions() as session, session.begin():
            for message in messages:
                await outbox.enqueue(session, now=time.time(), **message)
    finally:
        await deps.aclose()


@pytest.fixture
def lookup_policy() -> Options:
    # Short leases, so a claim left behind runs out within the test.
    return Options(policy=dataclasses.replace(FAST, lease_seconds=1.0))


async def test_a_post_slack_answers_too_late_is_found_not_sent_again(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory
) -> None:
    # Slack makes the post, but answers after our client has given up.
    app = await start_app(settings, slack_timeout=1)
    fake_slack.answer_late("chat.postMessage", seconds=3)
    evt = event("payout.failed")
    await post(app, evt)
    (row,) = await all_sent(app, 1)
    payout_id = evt["data"]["object"]["id"]
    messages = shown(fake_slack, "CPAYOUTS", payout_id)
    assert len(messages) == 1, "the alert was posted twice"
    assert row.ts == messages[0]["ts"]
    assert messages[0]["metadata"]["event_payload"]["keys"] == row.key
    assert fake_slack.calls_to("conversations.history")


async def test_a_post_slack_made_before_answering_500_is_not_sent_again(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory
) -> None:
    # Neither slack-sdk's retry handler nor the outbox may post it again.
    app = await start_app(settings)
    fake_slack.fail_next("chat.postMessage", status=500, after_effect=True)
    evt = event("charge.failed")
    await post(app, evt)
    (row,) = await all_sent(app, 1)
    messages = shown(fake_slack, "CPAYMENTS", evt["data"]["object"]["id"])
    assert len(messages) == 1, "the alert was posted twice"
    assert row.ts == messages[0]["ts"]


async def test_a_digest_slack_answers_too_late_is_found_not_sent_again(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory
) -> None:
    alerts = [
        {
            "key": f"alert:evt_late_{i}",
            "channel": "CPAYMENTS",
            "text": f"payment evt_late_{i}",
            "digest_line": f"payment evt_late_{i}",
        }
        for i in range(6)
    ]
    await queue(settings, *alerts)
    fake_slack.answer_late("chat.postMessage", seconds=3)
    app = await start_app(settings, slack_timeout=1)
    rows = await all_sent(app, 6)
    digests = shown(fake_slack, "CPAYMENTS", "evt_late_0")
    assert len(digests) == 1, "the digest was posted twice"
    assert len(fake_slack.messages["CPAYMENTS"]) == 1
    assert all(f"evt_late_{i}" in json.dumps(digests[0]) for i in range(6))
    assert {r.ts for r in rows} == {digests[0]["ts"]}


async def test_a_thread_reply_slack_answers_too_late_is_found_not_sent_again(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory
) -> None:
    await queue(settings, {"key": "card:1", "channel": "CDISPUTES", "text": "a card"})
    app = await start_app(settings, slack_timeout=1)
    (card,) = await all_sent(app, 1)
    fake_slack.answer_late("chat.postMessage", seconds=3)
    deps = app.app[DEPS]
    async with deps.sessions() as session, session.begin():
        await outbox.enqueue(
            session,
            key="card:1:nag",
            channel="CDISPUTES",
            text="a reminder in the thread",
            thread_key="card:1",
            now=time.time(),
        )
    deps.wake.outbox.set()
    rows = await all_sent(app, 2)
    replies = shown(fake_slack, "CDISPUTES", "a reminder in the thread")
    assert len(replies) == 1, "the reply was posted twice"
    assert replies[0]["thread_ts"] == card.ts
    assert rows[1].ts == replies[0]["ts"]
    assert fake_slack.calls_to("conversations.replies")


async def test_a_dm_slack_answers_too_late_is_found_not_sent_again(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory
) -> None:
    # Queued under the user's ID; read back through the DM's own ID.
    await queue(settings, {"key": "dm:1", "channel": "U_AGENT", "text": "your refund"})
    fake_slack.answer_late("chat.postMessage", seconds=3)
    app = await start_app(settings, slack_timeout=1)
    (row,) = await all_sent(app, 1)
    assert len(shown(fake_slack, "U_AGENT", "your refund")) == 1
    assert fake_slack.calls_to("conversations.open")
    assert row.ts == fake_slack.messages["U_AGENT"][0]["ts"]


async def test_a_failed_commit_after_slack_answered_does_not_post_again(
    settings: Settings,
    fake_slack: FakeSlack,
    start_app: AppFactory,
    lookup_policy: Options,
) -> None:
    app = await start_app(settings, lookup_policy)
    failed: list[str] = []

    def fail_recording_once(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The database refuses our "sent + ts" once, after Slack has posted.
        if not failed and statement.startswith("UPDATE outbox SET status"):
            failed.append(statement)
            raise OperationalError(statement, None, Exception("disk I/O error"))

    engine = app.app[DEPS].engine.sync_engine
    sa_event.listen(engine, "before_cursor_execute", fail_recording_once)
    evt = event("refund.failed")
    await post(app, evt)
    (row,) = await all_sent(app, 1)
    assert failed, "the commit of 'sent' never failed"
    messages = shown(fake_slack, "CREFUNDS", evt["data"]["object"]["id"])
    assert len(messages) == 1, "the alert was posted twice"
    assert row.ts == messages[0]["ts"]


async def test_a_claim_left_after_slack_answered_runs_out_and_is_found(
    settings: Settings,
    fake_slack: FakeSlack,
    start_app: AppFactory,
    lookup_policy: Options,
) -> None:
    # The database takes neither "sent" nor "failed": the claim stays until
    # its lease runs out, and whoever takes the row over looks first.
    app = await start_app(settings, lookup_policy)
    failed: list[str] = []

    def fail_both_records_once(
        conn: Any, cursor: Any, statement: str, *args: Any
    ) -> None:
        for start in ("UPDATE outbox SET status", "UPDATE outbox SET attempts"):
            if statement.startswith(start) and start not in failed:
                failed.append(start)
                raise OperationalError(statement, None, Exception("disk I/O error"))

    engine = app.app[DEPS].engine.sync_engine
    sa_event.listen(engine, "before_cursor_execute", fail_both_records_once)
    evt = event("refund.created")
    await post(app, evt)
    (row,) = await all_sent(app, 1)
    messages = shown(fake_slack, "CREFUNDS", evt["data"]["object"]["id"])
    assert len(messages) == 1, "the alert was posted twice"
    assert row.ts == messages[0]["ts"]
    assert "UPDATE outbox SET status" in failed


async def test_a_post_cut_off_by_shutdown_is_found_by_the_next_start(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory
) -> None:
    first = await start_app(settings)
    fake_slack.answer_late("chat.postMessage", seconds=5)
    evt = event("payout.paid")
    await post(first, evt)
    payout_id = evt["data"]["object"]["id"]
    await wait_until(lambda: shown(fake_slack, "CPAYOUTS", payout_id))
    await first.close()  # stops while waiting for Slack's answer

    second = await start_app(settings)
    (row,) = await all_sent(second, 1)
    messages = shown(fake_slack, "CPAYOUTS", payout_id)
    assert len(messages) == 1, "the alert was posted twice"
    assert row.ts == messages[0]["ts"]


async def test_without_the_history_scope_a_late_post_is_repeated_not_lost(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory
) -> None:
    # The documented exception: `check` names the missing scope.
    fake_slack.scopes.remove("channels:history")
    fake_slack.answer_late("chat.postMessage", seconds=3)
    app = await start_app(settings, slack_timeout=1)
    evt = event("payout.created")
    await post(app, evt)
    (row,) = await all_sent(app, 1)
    messages = shown(fake_slack, "CPAYOUTS", evt["data"]["object"]["id"])
    assert len(messages) == 2
    assert row.ts == messages[1]["ts"]
    history = fake_slack.calls_to("conversations.history")
    assert history
    assert history[0].response == {
        "ok": False,
        "error": "missing_scope",
        "needed": "channels:history",
        "provided": ",".join(fake_slack.scopes),
    }


async def test_a_post_whose_tag_slack_refuses_goes_out_untagged(
    client: Client, fake_slack: FakeSlack
) -> None:
    fake_slack.fail_next(
        "chat.postMessage", status=200, error="invalid_metadata_format"
    )
    evt = event("payout.failed")
    await post(client, evt)
    await wait_until(lambda: evt["id"] in event_ids_posted(fake_slack))
    first, second = fake_slack.calls_to("chat.postMessage")
    assert first.args.get("metadata")
    assert "metadata" not in second.args
    assert len(shown(fake_slack, "CPAYOUTS", evt["data"]["object"]["id"])) == 1
