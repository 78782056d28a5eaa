"""Waiting for the bot to have nothing left to do, instead of sleeping.

A test that proves something did NOT happen (no second alert, no post at
all) waits until the work that could have done it is finished, then looks:
every stored Stripe event processed, every queued Slack message sent, no call
to Slack still on its way. A fixed sleep proves nothing under load.
"""

from __future__ import annotations

import asyncio
import os
import time

from sqlalchemy import func, select
from sqlmodel import col

from bot.deps import Deps
from simulators.slack import FakeSlack
from storage.models import OutboxMessage, StormSummary, StripeEvent


async def _left(deps: Deps, fake_slack: FakeSlack) -> list[str]:
    """What is still to do, in the order work flows (event -> outbox -> Slack):
    an event processed commits its messages with it, and a message is marked
    sent only after Slack answered, so nothing can slip between the looks."""
    async with deps.sessions() as session:
        events = await session.scalar(
            select(func.count(col(StripeEvent.id))).where(
                col(StripeEvent.status) != "processed"
            )
        )
        messages = await session.scalar(
            select(func.count(col(OutboxMessage.id))).where(
                col(OutboxMessage.status) != "sent"
            )
        )
        summaries = await session.scalar(
            select(func.count(col(StormSummary.id))).where(
                col(StormSummary.status) != "done"
            )
        )
    in_flight = len(_in_flight(fake_slack))
    left = []
    if events:
        left.append(f"{events} Stripe event(s) not processed")
    if messages:
        left.append(f"{messages} outbox message(s) not sent")
    if summaries:
        left.append(f"{summaries} storm summary(ies) not posted with their CSV")
    if in_flight:
        left.append(f"{in_flight} Slack call(s) in flight")
    return left


def _in_flight(fake_slack: FakeSlack) -> list[str]:
    return [call.method for call in fake_slack.calls if call.status is None]


async def settled(deps: Deps, fake_slack: FakeSlack, *, timeout: float = 20.0) -> None:
    """Wait until the bot has finished everything it was given (a bound, not
    a pause: it returns as soon as that is true)."""
    deadline = time.monotonic() + timeout
    while left := await _left(deps, fake_slack):
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled after {timeout}s: {', '.join(left)}")
        await asyncio.sleep(0.02)


async def events_processed(deps: Deps, count: int, *, timeout: float = 20.0) -> None:
    """Wait until `count` Stripe events are stored and every one is processed
    (its alerts are then in the outbox, committed with it)."""
    deadline = time.monotonic() + timeout
    while True:
        async with deps.sessions() as session:
            rows = (
                (await session.execute(select(col(StripeEvent.status)))).scalars().all()
            )
        if len(rows) >= count and all(status == "processed" for status in rows):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"events not processed after {timeout}s: {rows}")
        await asyncio.sleep(0.02)


async def slack_idle(fake_slack: FakeSlack, *, timeout: float = 20.0) -> None:
    """Wait until no call to the fake Slack is still being answered."""
    deadline = time.monotonic() + timeout
    while in_flight := _in_flight(fake_slack):
        if time.monotonic() > deadline:
            raise AssertionError(f"Slack calls still in flight: {in_flight}")
        await asyncio.sleep(0.02)


_BOLT = os.sep + "slack_bolt" + os.sep
_NO_CODE = (lambda: None).__code__


def _bolt_tasks() -> list[asyncio.Task[object]]:
    """Tasks Bolt started and has not finished: a listener still running after
    its ack, or a lazy listener."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done()
        and _BOLT in getattr(task.get_coro(), "cr_code", _NO_CODE).co_filename
    ]


async def bolt_idle(*, timeout: float = 20.0) -> None:
    """Wait until every listener Bolt started (acked, lazy) has finished: a
    test that proves a click did nothing looks after this, not after a pause."""
    deadline = time.monotonic() + timeout
    while running := _bolt_tasks():
        if time.monotonic() > deadline:
            raise AssertionError(f"Bolt listeners still running: {running}")
        await asyncio.sleep(0.02)
