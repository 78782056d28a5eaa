"""Dispute deadline reminders: one per threshold, in the alert's thread."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot import disputes
from bot.blocks import disputes as blocks
from bot.config import Settings
from bot.deps import Deps
from handlers.jobs.disputes import send_reminders
from simulators.slack import FakeSlack, SlackCall
from simulators.stripe import FakeStripe
from storage import dispute_reminders as store
from storage import outbox
from storage.models import OutboxMessage
from tests.conftest import ManualClock
from tests.handlers.helpers import Client, Json, eventually, text_of
from tests.handlers.test_disputes import (
    DAY,
    deliver,
    dispute_event,
    dispute_row,
    open_dispute,
    press,
    submit_view,
    thread_reply,
)
from tests.support import counting_statements
from tests.support import dispute as dispute_object

HOUR = 3600


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def reminders_in(fake_slack: FakeSlack, alert: Json) -> list[SlackCall]:
    """Reminder replies Slack accepted in the alert's thread, oldest first."""
    return [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if c.status == 200
        and c.args.get("thread_ts") == alert["ts"]
        and (":alarm_clock:" in json.dumps(c.args) or "deadline" in str(c.args))
    ]


async def scan(deps: Deps) -> int:
    """One scan, as each run of the reminder job starts; reminders queued."""
    return (await disputes.scan_reminders(deps)).queued


async def test_one_reminder_per_threshold_then_past_due_once(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    deps: Deps,
    clock: ManualClock,
) -> None:
    dispute, alert = await open_dispute(
        client, fake_stripe, fake_slack, now=clock.t, due_in=8 * DAY
    )
    due_by = dispute["evidence_details"]["due_by"]
    await press(client, fake_slack, blocks.ACTION_TAKE, dispute["id"])
    await thread_reply(fake_slack, alert, "took this dispute")

    assert await scan(deps) == 0  # more than 168 h away
    for n, hours in enumerate((168, 72, 24, 6), start=1):
        clock.t = due_by - hours * HOUR + 1
        await send_reminders(deps)  # the job as the scheduler runs it
        assert await scan(deps) == 0  # already sent for this threshold
        await eventually(
            lambda n=n: len(reminders_in(fake_slack, alert)) == n,  # type: ignore[misc]
            what=f"reminder {n}",
        )
    clock.t = due_by + 60
    assert await scan(deps) == 1
    clock.advance(2 * DAY)
    assert await scan(deps) == 0
    await eventually(lambda: len(reminders_in(fake_slack, alert)) == 5)

    sent = reminders_in(fake_slack, alert)
    said = [json.dumps(c.args) for c in sent]
    assert all("<@U_AGENT>" in s for s in said)
    assert all("Still missing" in s for s in said[:4])
    assert "Tracking number" in said[0]
    assert "in 7 days" in said[0]
    assert "in 6 hours" in said[3]
    assert "passed" in said[4]
    # The last threshold and the past-due notice also show in the channel.
    assert [bool(c.args.get("reply_broadcast")) for c in sent] == [
        False,
        False,
        False,
        True,
        True,
    ]


async def test_a_dispute_first_seen_late_gets_one_reminder_not_three(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    deps: Deps,
    clock: ManualClock,
) -> None:
    dispute, alert = await open_dispute(
        client, fake_stripe, fake_slack, now=clock.t, due_in=20 * HOUR
    )
    assert await scan(deps) == 1
    await eventually(lambda: len(reminders_in(fake_slack, alert)) == 1)
    (only,) = reminders_in(fake_slack, alert)
    assert "Nobody has taken this dispute" in json.dumps(only.args)
    async with deps.sessions() as session:
        done = await store.reminders_for(session, dispute_id=dispute["id"])
    assert sorted(done) == ["168h", "24h", "72h"]

    clock.advance(15 * HOUR)  # 5 h left: the 6 h threshold is next
    assert await scan(deps) == 1
    assert await scan(deps) == 0


async def test_reminders_stop_once_evidence_is_submitted(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    deps: Deps,
    clock: ManualClock,
) -> None:
    dispute, _ = await open_dispute(
        client, fake_stripe, fake_slack, now=clock.t, due_in=2 * DAY
    )
    assert await scan(deps) == 1  # the 72 h one
    await submit_view(client, blocks.VIEW_SUBMIT, dispute["id"])

    async def submitted() -> bool:
        return (await dispute_row(deps, dispute["id"])).status == "under_review"

    await eventually(submitted, what="the submission")
    for hours in (24, 6, 0):
        clock.t = dispute["evidence_details"]["due_by"] - hours * HOUR + 1
        assert await scan(deps) == 0


async def test_reminders_stop_once_the_dispute_is_closed(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    deps: Deps,
    clock: ManualClock,
) -> None:
    dispute, _ = await open_dispute(
        client, fake_stripe, fake_slack, now=clock.t, due_in=2 * DAY
    )
    dispute["status"] = "lost"
    await deliver(
        client,
        dispute_event(
            fake_stripe, "charge.dispute.closed", dispute, created=int(clock.t)
        ),
    )

    async def closed() -> bool:
        return (await dispute_row(deps, dispute["id"])).status == "lost"

    await eventually(closed, what="the close to be applied")
    clock.advance(3 * DAY)
    assert await scan(deps) == 0


async def test_due_by_zero_never_nags(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    deps: Deps,
    clock: ManualClock,
) -> None:
    _, alert = await open_dispute(
        client, fake_stripe, fake_slack, now=clock.t, due_in=None
    )
    assert "the bank allows no response" in text_of(alert)
    for _ in range(3):
        clock.advance(10 * DAY)
        assert await scan(deps) == 0


async def test_past_due_is_said_once_even_for_a_dispute_first_seen_after_it(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    deps: Deps,
    clock: ManualClock,
) -> None:
    _, alert = await open_dispute(
        client, fake_stripe, fake_slack, now=clock.t, due_in=-HOUR
    )
    assert await scan(deps) == 1
    assert await scan(deps) == 0
    clock.advance(DAY)
    assert await scan(deps) == 0
    await eventually(lambda: len(reminders_in(fake_slack, alert)) == 1)
    (notice,) = reminders_in(fake_slack, alert)
    assert "passed" in json.dumps(notice.args)
    assert notice.args.get("reply_broadcast") in (True, "true", "1")


# -- several processes -------------------------------------------------------------


@pytest.fixture
async def instances(
    settings: Settings, clock: ManualClock
) -> AsyncIterator[tuple[Deps, Deps]]:
    """Two processes' worth of dependencies on one database."""
    first = Deps.create(settings, clock=clock)
    second = Deps.create(settings, clock=clock)
    assert first.instance_id != second.instance_id
    yield first, second
    await first.aclose()
    await second.aclose()


async def seed_rows(deps: Deps, *, count: int, due_by: int, now: float) -> list[str]:
    """Open disputes stored as if their events had come (no Slack involved)."""
    ids = []
    async with deps.sessions() as session, session.begin():
        for _ in range(count):
            obj = dispute_object()
            obj["evidence_details"]["due_by"] = due_by
            await disputes.apply_object(
                session, obj, version=disputes.snapshot(now), now=now
            )
            ids.append(obj["id"])
    return ids


async def reminder_messages(deps: Deps) -> int:
    async with deps.sessions() as session:
        total = await session.scalar(
            select(func.count()).where(
                col(OutboxMessage.key).like("dispute-reminder:%")
            )
        )
    return int(total or 0)


async def test_two_instances_scanning_together_send_each_reminder_once(
    instances: tuple[Deps, Deps], clock: ManualClock
) -> None:
    first, second = instances
    due_by = int(clock.t + 8 * DAY)
    ids = await seed_rows(first, count=40, due_by=due_by, now=clock.t)
    for stages, hours in enumerate((168, 72, 24, 6, 0), start=1):
        clock.t = due_by - hours * HOUR + 1
        counts = await asyncio.gather(*(scan(d) for d in (first, second, first)))
        assert sum(counts) == len(ids), counts
        assert await reminder_messages(first) == stages * len(ids)
        # A restarted process (new instance ID) finds nothing left to send.
        restarted = Deps.create(first.settings, clock=clock)
        try:
            assert await scan(restarted) == 0
        finally:
            await restarted.aclose()


async def test_a_scan_takes_the_same_queries_for_few_disputes_and_many(
    instances: tuple[Deps, Deps], clock: ManualClock
) -> None:
    few_deps, many_deps = instances
    due_by = int(clock.t + 3 * DAY)
    await seed_rows(few_deps, count=2, due_by=due_by, now=clock.t)
    with counting_statements(few_deps.engine) as few:
        assert await scan(few_deps) == 2
    await seed_rows(few_deps, count=60, due_by=due_by, now=clock.t)
    with counting_statements(many_deps.engine) as many:
        assert await scan(many_deps) == 60
    # The same statements, but for the reminders' INSERT, which goes out in
    # slices of ENQUEUE_SLICE rows (not one per reminder).
    slices = math.ceil(60 / outbox.ENQUEUE_SLICE)
    assert slices > 1
    assert len(many) == len(few) + slices - 1
    with counting_statements(many_deps.engine) as idle:
        assert await scan(many_deps) == 0
    # Nothing due: one query finds that out.
    assert len([s for s in idle if s.lstrip().upper().startswith("SELECT")]) == 1


async def test_a_big_backlog_goes_out_in_batches_nearest_deadline_first(
    instances: tuple[Deps, Deps], clock: ManualClock
) -> None:
    deps, _ = instances
    later = await seed_rows(deps, count=7, due_by=int(clock.t + 3 * DAY), now=clock.t)
    sooner = await seed_rows(deps, count=5, due_by=int(clock.t + 2 * DAY), now=clock.t)
    first = await disputes.scan_reminders(deps, limit=5)
    assert (first.queued, first.full) == (5, True)
    async with deps.sessions() as session:
        done = {
            d
            for d in sooner + later
            if await store.reminders_for(session, dispute_id=d)
        }
    assert done == set(sooner)
    # The job keeps going, one short transaction per batch, until none is due.
    assert await disputes.send_due_reminders(deps, batch=5) == 7
    assert await reminder_messages(deps) == 12
