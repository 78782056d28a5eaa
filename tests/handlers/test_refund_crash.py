"""A SIGKILL between Stripe's refund and our commit: one refund, request finished.

The real bot runs as `python -m bot` against the in-test FakeSlack and
FakeStripe. The test holds SQLite's write lock from the moment the refund POST
reaches Stripe, so the bot gets Stripe's answer but cannot commit it; then the
bot is killed, the lock released and the bot started again.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.blocks.refunds import APPROVE_ACTION
from simulators.slack import FakeSlack
from simulators.slack_requests import block_action_body, sign, slash_command_body
from simulators.stripe import FakeStripe
from storage.engine import make_engine, make_sessionmaker
from storage.models import RefundRequest
from tests.handlers.helpers import eventually
from tests.process import BotProcess, bot_env, free_port
from tests.support import SIGNING_SECRET

pytestmark = pytest.mark.slow

Starter = Callable[[], BotProcess]


@pytest.fixture
async def bot_process(
    tmp_path: Path, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> AsyncIterator[Starter]:
    """Start `python -m bot` on a SQLite file; every child is killed at the end."""
    started: list[BotProcess] = []
    env = bot_env(
        db_url=f"sqlite:///{tmp_path / 'bot.db'}",
        slack_url=fake_slack.url,
        stripe_url=fake_stripe.url,
        port=free_port(),
    )

    def _make() -> BotProcess:
        proc = BotProcess(env, tmp_path)
        started.append(proc)
        return proc

    try:
        yield _make
    finally:
        for proc in started:
            proc.kill()


async def slack_post(bot: BotProcess, body: str) -> None:
    status, text = await bot.post(
        "/slack/events", body.encode(), sign(body, SIGNING_SECRET)
    )
    assert status == 200, text


def lock_database(path: Path) -> sqlite3.Connection:
    """Take SQLite's write lock, as a long transaction of another writer would."""
    conn = sqlite3.connect(
        path, timeout=10, isolation_level=None, check_same_thread=False
    )
    conn.execute("BEGIN IMMEDIATE")
    return conn


async def stored_requests(path: Path) -> list[RefundRequest]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(select(RefundRequest))
            return list(rows.scalars().all())
    finally:
        await engine.dispose()


async def test_sigkill_after_stripe_refunded_is_finished_at_restart(
    bot_process: Starter,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.db"
    pi, _ = fake_stripe.add_payment(customer_id=None, amount=2000)
    bot = bot_process()
    await bot.start()

    url = fake_slack.response_url()
    await slack_post(
        bot, slash_command_body(text=f"refund {pi['id']} 7.50", response_url=url)
    )
    (answer, *_) = await fake_slack.wait_for_response(url, timeout=30)
    assert "waiting for a manager" in answer["text"]
    (posted,) = await fake_slack.wait_for_calls("chat.postMessage", 1, timeout=30)
    ts = str(posted.response and posted.response["ts"])
    (approve_button,) = [
        element
        for block in posted.args["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == APPROVE_ACTION
    ]

    # Stripe takes a moment; while it works, another writer takes the lock.
    fake_stripe.latency = 1.0
    await slack_post(
        bot,
        block_action_body(
            action_id=APPROVE_ACTION,
            value=approve_button["value"],
            user_id="U_MANAGER",
            channel_id="CAPPROVALS",
            message_ts=ts,
            response_url=fake_slack.response_url(),
        ),
    )
    await eventually(
        lambda: fake_stripe.requests_to("POST", "/v1/refunds"),
        timeout=30,
        what="the refund request at Stripe",
    )
    lock = await asyncio.to_thread(lock_database, db)
    try:
        await eventually(lambda: fake_stripe.refunds, timeout=30, what="the refund")
        # Stripe has answered; the bot now waits for the lock to record it.
        await asyncio.sleep(0.5)
        bot.kill()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    (row,) = await stored_requests(db)
    assert row.status == "approved", "the kill came after the commit"
    assert row.refund_id is None

    fake_stripe.latency = 0.0
    restarted = bot_process()
    await restarted.start()
    (row,) = await stored_requests(db)
    assert row.status == "succeeded"
    (refund,) = fake_stripe.refunds
    assert row.refund_id == refund["id"]
    # Start-up found the refund among the charge's, by the request in its
    # metadata: no second POST.
    (post,) = fake_stripe.requests_to("POST", "/v1/refunds")
    assert post.idempotency_key == row.idempotency_key
    (listed,) = fake_stripe.requests_to("GET", "/v1/refunds")
    assert listed.params["charge"] == refund["charge"]

    def edited() -> bool:
        message = fake_slack.message("CAPPROVALS", ts)
        return refund["id"] in json.dumps(message["blocks"])

    await eventually(edited, timeout=30, what="the approval message to show it")
    await eventually(
        lambda: any(
            refund["id"] in (m.get("text") or "")
            for m in fake_slack.messages.get("U_AGENT", [])
        ),
        timeout=30,
        what="the requester's DM",
    )
