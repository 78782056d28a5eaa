"""Outbox claims are short leases: kept while a sender works, let go in time."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.server import DEPS, Options
from simulators.slack import FakeSlack
from tests.bot.test_outbox import all_sent, post, shown
from tests.conftest import FAST, TEST_OPTIONS, AppFactory
from tests.support import event

LEASE = 1.0


@pytest.fixture
def short_lease() -> Options:
    return dataclasses.replace(
        TEST_OPTIONS, policy=dataclasses.replace(FAST, lease_seconds=LEASE)
    )


async def test_a_slow_post_keeps_its_claim_from_another_instance(
    settings: Settings,
    fake_slack: FakeSlack,
    start_app: AppFactory,
    short_lease: Options,
) -> None:
    if settings.DATABASE_URL.startswith("sqlite"):
        pytest.skip("several instances need PostgreSQL; SQLite runs one")
    # Slack takes three leases to answer; the sender renews its claim
    # meanwhile, so the other instance neither looks for the post nor sends it.
    a = await start_app(settings, short_lease)
    await start_app(settings, short_lease)
    fake_slack.answer_late("chat.postMessage", seconds=3 * LEASE)
    evt = event("payout.failed")
    await post(a, evt)
    (row,) = await all_sent(a, 1)
    messages = shown(fake_slack, "CPAYOUTS", evt["data"]["object"]["id"])
    assert len(messages) == 1
    assert row.ts == messages[0]["ts"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert fake_slack.calls_to("conversations.history") == [], (
        "another instance took over a claim that was still being worked on"
    )


async def test_a_sender_that_cannot_renew_gives_up_before_its_claim_runs_out(
    settings: Settings,
    fake_slack: FakeSlack,
    start_app: AppFactory,
    short_lease: Options,
) -> None:
    # Slack makes the post at once and answers only after five leases. The
    # database refuses every renewal for the first lease: the sender must
    # stop waiting before its claim can run out (whoever takes the row over
    # then looks for the post in Slack), not hold on for Slack's answer.
    app = await start_app(settings, short_lease)
    late = 5 * LEASE
    fake_slack.answer_late("chat.postMessage", seconds=late)

    def refuse_renewals(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        calls = fake_slack.calls_to("chat.postMessage")
        if (
            statement.startswith("UPDATE outbox SET claimed_until")
            and calls
            and time.monotonic() < calls[0].at + LEASE
        ):
            raise OperationalError(statement, None, Exception("connection lost"))

    sa_event.listen(
        app.app[DEPS].engine.sync_engine, "before_cursor_execute", refuse_renewals
    )
    evt = event("payout.paid")
    await post(app, evt)
    (row,) = await all_sent(app, 1)
    first = fake_slack.calls_to("chat.postMessage")[0]
    assert time.monotonic() < first.at + late, "the sender waited for Slack"
    messages = shown(fake_slack, "CPAYOUTS", evt["data"]["object"]["id"])
    assert len(messages) == 1, "the alert was posted twice"
    assert row.ts == messages[0]["ts"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
