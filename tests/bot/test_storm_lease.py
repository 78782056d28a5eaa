"""Storm summary claims are short leases, kept and fenced as outbox claims are.

A sender renews its claim on a summary while Slack takes its time, stops
when it cannot, and its late writes leave a summary another process has
taken over to that process. Each scenario runs on SQLite and PostgreSQL;
"another process" is a second claimant written through the storage
functions, as a second instance's sender would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from bot.config import Settings
from bot.deps import Deps
from bot.server import DEPS, Options
from bot.workers import storm_folds
from simulators.slack import FakeSlack
from storage import storms
from storage.models import OutboxMessage, StormSummary
from tests.bot import test_storms
from tests.bot.test_storms import (
    OPTIONS,
    csv_rows,
    file_shares,
    run_until,
    shown_ids,
    start_with_storm,
    summaries,
    until,
)
from tests.conftest import AppFactory, ManualClock
from tests.settle import events_processed, settled
from tests.support import event

LEASE = 2.0
SHORT = dataclasses.replace(
    OPTIONS, policy=dataclasses.replace(OPTIONS.policy, lease_seconds=LEASE)
)
OTHER = "other-instance"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return test_storms.settings_overrides.__wrapped__()  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def options() -> Options:
    return OPTIONS


async def the_summary(deps: Deps) -> StormSummary:
    async with deps.sessions() as session:
        [row] = (await session.execute(select(StormSummary))).scalars().all()
    return row


async def two_leases_pass(clock: ManualClock) -> None:
    """Twice the lease goes by, on both clocks, in steps the renewals see."""
    for _ in range(4):
        await asyncio.sleep(LEASE / 2)
        clock.advance(LEASE / 2)


async def claim_as_other(deps: Deps, *, force: bool) -> StormSummary | None:
    """A second sender's claim; `force`: as if our lease had run out."""
    async with deps.sessions() as session, session.begin():
        if force:
            await session.execute(update(StormSummary).values(claimed_until=0.0))
        return await storms.claim_next(
            session,
            channel="CSTORM",
            claimant=OTHER,
            now=deps.clock.now(),
            lease=LEASE,
        )


async def held_summary_post(
    settings: Settings,
    fake_slack: FakeSlack,
    start_app: AppFactory,
    clock: ManualClock,
    options: Options,
) -> tuple[Any, list[dict[str, Any]], Any]:
    """A storm folded, its summary's post in flight (held by Slack)."""
    # start_with_storm starts its instance with OPTIONS: ours instead.
    app, events = await start_with_storm(
        settings, fake_slack, _with(start_app, options), clock
    )
    hold = fake_slack.hold("chat.postMessage")
    clock.advance(1.05)
    app.app[DEPS].wake.outbox.set()
    await until(lambda: hold.arrived == 1)
    return app, events, hold


def _with(start_app: AppFactory, options: Options) -> AppFactory:
    async def start(settings: Settings, _: Options, clock: Any, **kw: Any) -> Any:
        return await start_app(settings, options, clock, **kw)

    return start


async def test_a_summary_post_held_past_its_lease_keeps_its_claim(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory, clock: ManualClock
) -> None:
    app, events, hold = await held_summary_post(
        settings, fake_slack, start_app, clock, SHORT
    )
    deps = app.app[DEPS]
    # Slack keeps the post for twice the lease (by both clocks); the sender
    # renews meanwhile, so a second sender finds nothing to take over.
    await two_leases_pass(clock)
    assert hold.caller_waiting == 1, "the sender gave up a claim it could keep"
    assert await claim_as_other(deps, force=False) is None, (
        "a second sender took over a summary still being posted"
    )
    hold.release()
    await run_until(clock, deps, lambda: bool(file_shares(fake_slack)))
    assert len(summaries(fake_slack)) == 1
    assert fake_slack.calls_to("conversations.history") == []
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)


async def test_a_csv_upload_held_past_its_lease_keeps_its_claim(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory, clock: ManualClock
) -> None:
    app, events = await start_with_storm(
        settings, fake_slack, _with(start_app, SHORT), clock
    )
    deps = app.app[DEPS]
    hold = fake_slack.hold("files.completeUploadExternal")
    await run_until(clock, deps, lambda: hold.arrived == 1)
    await two_leases_pass(clock)
    assert hold.caller_waiting == 1, "the sender gave up a claim it could keep"
    assert await claim_as_other(deps, force=False) is None, (
        "a second sender took over a CSV still being uploaded"
    )
    hold.release()
    await until(lambda: bool(file_shares(fake_slack)))

    async def done() -> bool:
        return (await the_summary(deps)).status == storms.DONE

    deadline = time.monotonic() + 5
    while not await done():
        assert time.monotonic() < deadline, "the upload was not recorded"
        await asyncio.sleep(0.05)
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1
    assert fake_slack.calls_to("conversations.replies") == []
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)


async def test_a_sender_taken_over_stops_and_leaves_the_summary_alone(
    settings: Settings,
    fake_slack: FakeSlack,
    start_app: AppFactory,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, events, hold = await held_summary_post(
        settings, fake_slack, start_app, clock, SHORT
    )
    deps = app.app[DEPS]
    taken = await claim_as_other(deps, force=True)
    assert taken is not None
    # Its next renewal fails: it stops waiting for Slack within a lease...
    started = time.monotonic()
    await until(lambda: hold.caller_waiting == 0, timeout=3 * LEASE)
    assert time.monotonic() - started < LEASE
    hold.release()  # ...and Slack makes the post after all.
    # Its late write ("failed") is refused, or not: it logs either way.
    outcomes = ("was taken over", "Slack failed")
    await until(lambda: any(o in r.message for r in caplog.records for o in outcomes))
    row = await the_summary(deps)
    assert (row.claimed_by, row.status, row.attempts) == (OTHER, storms.CLAIMED, 0)
    assert row.last_error is None

    # The other claimant dies; ours takes over when that lease runs out,
    # finds the post in the channel and does not post it again.
    clock.advance(LEASE + 0.1)
    await run_until(clock, deps, lambda: bool(file_shares(fake_slack)))
    assert len(summaries(fake_slack)) == 1, "the summary was posted twice"
    assert fake_slack.calls_to("conversations.history")
    assert len(file_shares(fake_slack)) == 1
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)


async def folded_statuses(deps: Deps, summary_id: int) -> set[str]:
    async with deps.sessions() as session:
        result = await session.execute(
            select(col(OutboxMessage.status)).where(
                col(OutboxMessage.storm_id) == summary_id
            )
        )
        return set(result.scalars())


async def test_late_writes_of_a_taken_over_claimant_are_refused(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory, clock: ManualClock
) -> None:
    app, _, hold = await held_summary_post(
        settings, fake_slack, start_app, clock, SHORT
    )
    deps = app.app[DEPS]
    await claim_as_other(deps, force=True)
    await until(lambda: hold.caller_waiting == 0, timeout=3 * LEASE)
    hold.release()
    row = await the_summary(deps)
    assert row.id is not None
    old, now = deps.instance_id, deps.clock.now()
    async with deps.sessions() as session, session.begin():
        applied = [
            await storms.renew_claim(
                session, summary_id=row.id, claimant=old, now=now, lease=LEASE
            ),
            await storms.mark_posted(
                session, summary_id=row.id, ts="1.0", claimant=old, now=now
            ),
            await storms.mark_failed(
                session, summary_id=row.id, error="late", retry_at=now, claimant=old
            ),
            await storms.defer(session, summary_id=row.id, until=now, claimant=old),
            await storms.mark_done(
                session, summary_id=row.id, file_id="F1", claimant=old
            ),
        ]
    assert applied == [False] * 5
    after = await the_summary(deps)
    assert (after.claimed_by, after.status, after.ts) == (OTHER, storms.CLAIMED, None)
    assert (after.attempts, after.last_error) == (0, None)
    assert await folded_statuses(deps, row.id) == {"folded"}

    # The claimant that holds it writes.
    async with deps.sessions() as session, session.begin():
        assert await storms.mark_posted(
            session, summary_id=row.id, ts="2.0", claimant=OTHER, now=now
        )
    after = await the_summary(deps)
    assert (after.claimed_by, after.status, after.ts) == (None, storms.POSTED, "2.0")
    assert await folded_statuses(deps, row.id) == {"sent"}


async def test_a_killed_senders_summary_is_taken_over_within_a_lease(
    settings: Settings,
    fake_slack: FakeSlack,
    start_app: AppFactory,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, events, hold = await held_summary_post(
        settings, fake_slack, start_app, clock, SHORT
    )
    dead = first.app[DEPS].instance_id
    await first.close()
    hold.release()  # the killed process's post reached Slack
    await until(lambda: bool(summaries(fake_slack)))
    # Killed, not stopped: its claim stays, with the lease it last renewed.
    await hold_claims(settings, clock, dead)
    claims = Calls(storms.claim_next)
    monkeypatch.setattr(storms, "claim_next", claims)
    second = await start_app(settings, SHORT, clock)
    deps = second.app[DEPS]
    if not settings.DATABASE_URL.startswith("sqlite"):
        # The claimant may be alive on another host: its lease is waited for.
        # (On SQLite only one instance runs: a start takes all claims over.)
        tried = claims.returned
        deps.wake.outbox.set()
        await until(lambda: claims.returned > tried)  # a claim tried since the wake
        row = await the_summary(deps)
        assert row.claimed_by == dead, "taken over before its lease ran out"
        clock.advance(LEASE + 0.1)
        deps.wake.outbox.set()

    async def posted() -> bool:
        return (await the_summary(deps)).status == storms.POSTED

    # Taken over at once, the post found in the channel, not made again.
    deadline = time.monotonic() + LEASE
    while not await posted():
        assert time.monotonic() < deadline, "not taken over within a lease"
        await asyncio.sleep(0.05)
    assert fake_slack.calls_to("conversations.history")
    await run_until(clock, deps, lambda: bool(file_shares(fake_slack)))
    assert len(summaries(fake_slack)) == 1, "the summary was posted twice"
    assert len(file_shares(fake_slack)) == 1
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)


async def test_a_folder_killed_halfway_leaves_a_summary_the_next_one_finishes(
    settings: Settings,
    fake_slack: FakeSlack,
    start_app: AppFactory,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Folded a slice per transaction; the folder dies after its second slice,
    # before the summary has its words.
    monkeypatch.setattr(storm_folds, "FOLD_SLICE", 30)
    fold_slice = storms.fold_slice
    slices = Calls(fold_slice, dies_on=3)
    monkeypatch.setattr(storms, "fold_slice", slices)
    first, events = await start_with_storm(
        settings, fake_slack, _with(start_app, SHORT), clock
    )
    deps = first.app[DEPS]
    clock.advance(1.05)
    deps.wake.outbox.set()
    await until(lambda: slices.calls == 3)
    row = await the_summary(deps)
    assert (row.status, row.text) == (storms.BUILDING, "")
    dead = row.claimed_by
    await first.close()
    monkeypatch.setattr(storms, "fold_slice", fold_slice)
    # Killed, not stopped: its claim stays, with the lease it last renewed.
    await hold_claims(settings, clock, dead)

    second = await start_app(settings, SHORT, clock)
    deps = second.app[DEPS]
    ids = {e["id"] for e in events}

    await run_until(clock, deps, lambda: set(shown_ids(fake_slack, ids)) == ids)
    await run_until(
        clock, deps, lambda: len(file_shares(fake_slack)) == len(summaries(fake_slack))
    )
    shown = shown_ids(fake_slack, ids)
    assert sorted(shown) == sorted(ids), "an alert was lost or shown twice"
    # The dead folder's summary, finished with the 60 alerts it had folded.
    first_csv = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert [r["event_id"] for r in first_csv] == [e["id"] for e in events[:60]]
    # The CSV is in Slack before its summary is marked done: wait for the mark.
    await settled(deps, fake_slack)
    async with deps.sessions() as session:
        left = (await session.execute(select(StormSummary))).scalars().all()
        folded = await session.scalar(
            select(func.count()).where(col(OutboxMessage.status) == storms.FOLDED)
        )
    assert {r.status for r in left} == {storms.DONE}
    assert folded == 0


class Calls:
    """`call`, counting the calls made (`calls`) and those that have
    returned (`returned`); with `dies_on`, that call raises instead: the
    process dies there."""

    def __init__(
        self, call: Callable[..., Awaitable[Any]], *, dies_on: int | None = None
    ) -> None:
        self.call, self.dies_on = call, dies_on
        self.calls = self.returned = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.dies_on:
            raise RuntimeError("killed")
        try:
            return await self.call(*args, **kwargs)
        finally:
            self.returned += 1


async def hold_claims(settings: Settings, clock: ManualClock, claimant: Any) -> None:
    """As a killed process leaves them: claims under its name, leased on."""
    left = Deps.create(settings, clock=clock)
    try:
        async with left.sessions() as session, session.begin():
            await session.execute(
                update(StormSummary).values(
                    claimed_by=claimant, claimed_until=clock.now() + LEASE
                )
            )
    finally:
        await left.aclose()


async def test_alerts_a_crash_left_folded_after_the_post_become_sent(
    client: Any,
    fake_slack: FakeSlack,
    deps: Deps,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Marked sent a slice per transaction after the post: the sender dies
    # after the first slice (the one that goes with the post).
    monkeypatch.setattr(storms, "SEND_SLICE", 30)
    sends = Calls(storms.send_folded, dies_on=2)
    monkeypatch.setattr(storms, "send_folded", sends)
    await test_storms.warm_up(client, fake_slack)
    events = [event("charge.succeeded") for _ in range(100)]
    await test_storms.post_all(client, events)
    await events_processed(deps, len(events) + 1)
    await run_until(clock, deps, lambda: sends.calls >= 2)
    assert await outbox_statuses(deps) == {"sent": 31, storms.FOLDED: 70}

    # Its next step, the CSV, sends them first.
    await run_until(clock, deps, lambda: bool(file_shares(fake_slack)))
    assert await outbox_statuses(deps) == {"sent": 101}
    [summary] = summaries(fake_slack)
    async with deps.sessions() as session:
        stamps = set(
            (
                await session.execute(
                    select(OutboxMessage.ts).where(  # type: ignore[call-overload]
                        col(OutboxMessage.storm_id).is_not(None)
                    )
                )
            ).scalars()
        )
    assert summary.response is not None
    assert stamps == {summary.response["ts"]}
    assert len(summaries(fake_slack)) == 1
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)


async def outbox_statuses(deps: Deps) -> dict[str, int]:
    async with deps.sessions() as session:
        result = await session.execute(
            select(col(OutboxMessage.status), func.count()).group_by(
                col(OutboxMessage.status)
            )
        )
    return {str(status): int(count) for status, count in result.all()}
