"""Storm summaries: a channel's storm of alerts becomes one summary and a CSV.

Every scenario runs through signed webhooks into the whole server and out to
the fake Slack, on SQLite and on PostgreSQL. The clock is a manual one: a
channel that has just had a message stays paused (one message a second)
until the test moves time on, so a storm is queued whole before the sender
decides what to do with it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.config import Settings
from bot.deps import Deps
from bot.server import DEPS, Options
from bot.workers import WorkerPolicy
from simulators.slack import FakeSlack, SlackCall
from storage.models import StormSummary
from tests.conftest import AppFactory, ManualClock
from tests.settle import events_processed, settled
from tests.support import (
    charge,
    dispute,
    event,
    payment_intent,
    payout,
    refund,
    signed,
)

Client = TestClient[Any, Any]
Json = dict[str, Any]
CHANNEL = "CSTORM"

# Slack's pace (one message a second per channel), and a storm threshold of
# two seconds of digests (more than 80 alerts) instead of sixty, so that a
# storm is a few hundred events, not thousands.
POLICY = WorkerPolicy(
    poll_seconds=0.05,
    lease_seconds=30.0,
    channel_interval=1.0,
    retry_base=0.05,
    retry_cap=0.5,
    coalesce_seconds=0.01,
    unknown_outcome_wait=0.05,
    storm_seconds=2.0,
    storm_gather_seconds=1.0,
)
OPTIONS = Options(policy=POLICY, sync_at_start=False)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Every group in one channel: disputes' cards land among the storm.
    groups = ("ALERT", "PAYMENTS", "REFUNDS", "PAYOUTS", "DISPUTES", "APPROVALS")
    return {f"{g}_CHANNEL": CHANNEL for g in groups}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def options() -> Options:
    return OPTIONS


async def post(client: Client, evt: Json) -> None:
    body, headers = signed(evt)
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 200


async def post_all(client: Client, events: list[Json]) -> None:
    for i in range(0, len(events), 25):
        await asyncio.gather(*(post(client, e) for e in events[i : i + 25]))


def ok_posts(fake_slack: FakeSlack) -> list[SlackCall]:
    return [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if c.status == 200 and c.response and c.response.get("ok")
    ]


def is_summary(call: SlackCall) -> bool:
    keys = str(call.args.get("metadata", {}).get("event_payload", {}).get("keys"))
    return keys.startswith("storm:")


def summaries(fake_slack: FakeSlack) -> list[SlackCall]:
    return [c for c in ok_posts(fake_slack) if is_summary(c)]


def file_shares(fake_slack: FakeSlack) -> list[Json]:
    return [m for m in fake_slack.messages.get(CHANNEL, []) if m.get("files")]


def csv_rows(fake_slack: FakeSlack, share: Json) -> list[dict[str, str]]:
    content = fake_slack.content_of(share["files"][0]["id"]).decode("utf-8")
    return list(csv.DictReader(io.StringIO(content)))


def ids_in_posts(fake_slack: FakeSlack, ids: set[str]) -> list[str]:
    """Every one of `ids` named by a post other than a summary, per post."""
    found: list[str] = []
    for call in ok_posts(fake_slack):
        if not is_summary(call):
            text = json.dumps(call.args)
            found += [i for i in ids if i in text]
    return found


def shown_ids(fake_slack: FakeSlack, ids: set[str]) -> list[str]:
    """Every one of `ids` Slack shows, once per message or CSV row."""
    in_csvs = [
        r["event_id"] for s in file_shares(fake_slack) for r in csv_rows(fake_slack, s)
    ]
    return ids_in_posts(fake_slack, ids) + in_csvs


async def run_until(
    clock: ManualClock,
    deps: Deps,
    done: Callable[[], bool],
    *,
    limit: int = 40,
) -> None:
    """Move the clock a second at a time (the channel's pace) until `done`."""
    for _ in range(limit):
        if done():
            return
        clock.advance(1.05)
        deps.wake.outbox.set()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not done():
            await asyncio.sleep(0.02)
    assert done(), "not done after moving the clock on"


async def until(done: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def warm_up(client: Client, fake_slack: FakeSlack) -> Json:
    """One alert posted: the channel is now paused until the clock moves."""
    evt = event("payout.paid")
    await post(client, evt)
    deadline = time.monotonic() + 15
    while not any(evt["id"] in json.dumps(c.args) for c in ok_posts(fake_slack)):
        assert time.monotonic() < deadline, "the warm-up alert was not posted"
        await asyncio.sleep(0.02)
    return evt


def mixed_storm() -> list[Json]:
    """Mixed types and currencies, failures among them, one hostile customer."""
    events = [
        event("charge.succeeded", charge(amount=1000 + i, currency="usd"))
        for i in range(30)
    ]
    events.append(event("charge.succeeded", charge(customer='=HYPERLINK("http://x")')))
    events += [
        event("charge.failed", charge(amount=1500, currency="jpy", status="failed"))
        for _ in range(19)
    ]
    events.append(
        event("charge.failed", charge(amount=99999, currency="jpy", status="failed"))
    )
    events += [
        event(
            "payment_intent.payment_failed",
            payment_intent(
                amount=1250, currency="kwd", status="requires_payment_method"
            ),
        )
        for _ in range(20)
    ]
    events += [event("payout.failed", payout(status="failed")) for _ in range(10)]
    events += [
        event("refund.failed", refund(currency="eur", status="failed"))
        for _ in range(10)
    ]
    events += [event("payout.paid", payout(currency="eur")) for _ in range(20)]
    return events


def section_texts(call: SlackCall) -> list[str]:
    return [
        b["text"]["text"]
        for b in call.args["blocks"]
        if b.get("type") == "section" and b.get("text")
    ]


# -- the summary and its CSV ---------------------------------------------------------


async def test_a_storm_becomes_one_summary_with_every_event_in_its_csv(
    client: Client, fake_slack: FakeSlack, deps: Deps, clock: ManualClock
) -> None:
    await warm_up(client, fake_slack)
    events = mixed_storm()
    await post_all(client, events)
    await events_processed(deps, len(events) + 1)
    await run_until(clock, deps, lambda: bool(file_shares(fake_slack)))

    [summary] = summaries(fake_slack)
    ids = {e["id"] for e in events}
    assert ids_in_posts(fake_slack, ids) == [], "folded alerts were posted too"
    assert "111 Stripe events" in summary.args["text"]
    texts = section_texts(summary)
    by_type = next(t for t in texts if t.startswith("*Events by type*"))
    assert by_type.splitlines()[1:] == [
        ":x: `charge.failed`: 20",
        ":x: `payment_intent.payment_failed`: 20",
        ":x: `payout.failed`: 10",
        ":x: `refund.failed`: 10",
        "`charge.succeeded`: 31",
        "`payout.paid`: 20",
    ]
    totals = next(t for t in texts if t.startswith("*Totals by currency*"))
    # JPY has no minor unit, KWD three; failures' share beside each total.
    assert "128,499 JPY in 20 (128,499 JPY failed)" in totals
    assert "25.000 KWD in 20 (25.000 KWD failed)" in totals
    usd = sum(1000 + i for i in range(30)) + 2000 + 10 * 110000
    assert f"{usd / 100:,.2f} USD in 41 ({1_100_000 / 100:,.2f} USD failed)" in totals
    largest_failed = next(t for t in texts if t.startswith("*Largest failed"))
    assert largest_failed.splitlines()[1].startswith("99,999 JPY · `charge.failed`")
    # Failures come before the other sections.
    assert texts.index(largest_failed) < texts.index(totals)

    [share] = file_shares(fake_slack)
    assert share["thread_ts"] == summary.response["ts"]  # type: ignore[index]
    rows = csv_rows(fake_slack, share)
    assert sorted(r["event_id"] for r in rows) == sorted(ids)
    assert list(rows[0]) == [
        "created",
        "event_id",
        "type",
        "object_id",
        "amount_minor",
        "amount",
        "currency",
        "status",
        "customer",
    ]
    by_event = {r["event_id"]: r for r in rows}
    jpy = by_event[events[31]["id"]]
    assert (jpy["amount_minor"], jpy["amount"], jpy["currency"]) == (
        "1500",
        "1500",
        "JPY",
    )
    kwd = by_event[events[51]["id"]]
    assert (kwd["amount_minor"], kwd["amount"], kwd["currency"]) == (
        "1250",
        "1.250",
        "KWD",
    )
    assert kwd["type"] == "payment_intent.payment_failed"
    assert kwd["object_id"] == events[51]["data"]["object"]["id"]
    hostile = by_event[events[30]["id"]]
    assert hostile["customer"] == '\'=HYPERLINK("http://x")'
    # Nothing lost, nothing doubled: the summary covers what it says.
    await settled(deps, fake_slack)
    async with deps.sessions() as session:
        [row] = (await session.execute(select(StormSummary))).scalars().all()
    assert (row.status, row.events, row.file_id) == (
        "done",
        111,
        share["files"][0]["id"],
    )


async def test_dispute_cards_are_never_folded_and_the_summary_names_them(
    client: Client, fake_slack: FakeSlack, deps: Deps, clock: ManualClock
) -> None:
    await warm_up(client, fake_slack)
    storm = [event("charge.succeeded") for _ in range(100)]
    disputes = [event("charge.dispute.created", dispute()) for _ in range(3)]
    await post_all(client, storm[:50] + disputes + storm[50:])
    await events_processed(deps, len(storm) + len(disputes) + 1)
    dispute_ids = [d["data"]["object"]["id"] for d in disputes]

    def cards() -> list[SlackCall]:
        return [
            c
            for c in ok_posts(fake_slack)
            if any(d in json.dumps(c.args) for d in dispute_ids) and not is_summary(c)
        ]

    await run_until(
        clock, deps, lambda: len(cards()) == 3 and bool(file_shares(fake_slack))
    )
    [summary] = summaries(fake_slack)
    named = next(t for t in section_texts(summary) if "Not folded" in t)
    assert "3 messages" in named
    assert all(f"`{d}`" in named for d in dispute_ids)
    # Each card is its own message, with its buttons.
    for card in cards():
        assert any(b["type"] == "actions" for b in card.args["blocks"])
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in storm)
    # The summary goes first; the cards it names follow it.
    posts = ok_posts(fake_slack)
    assert posts.index(summary) < min(posts.index(c) for c in cards())


async def test_a_small_burst_still_goes_out_as_digests(
    client: Client, fake_slack: FakeSlack, deps: Deps, clock: ManualClock
) -> None:
    await warm_up(client, fake_slack)
    events = [event("charge.succeeded") for _ in range(60)]
    await post_all(client, events)
    await events_processed(deps, len(events) + 1)
    ids = {e["id"] for e in events}
    await run_until(clock, deps, lambda: set(ids_in_posts(fake_slack, ids)) == ids)
    assert sorted(ids_in_posts(fake_slack, ids)) == sorted(ids)
    assert summaries(fake_slack) == []
    assert file_shares(fake_slack) == []
    assert len(ok_posts(fake_slack)) == 3  # the warm-up, then two digests


# -- what arrives meanwhile, restarts, late answers --------------------------------


async def test_events_arriving_while_a_summary_is_made_join_the_next(
    client: Client, fake_slack: FakeSlack, deps: Deps, clock: ManualClock
) -> None:
    await warm_up(client, fake_slack)
    first = [event("charge.succeeded") for _ in range(100)]
    await post_all(client, first)
    await events_processed(deps, len(first) + 1)
    hold = fake_slack.hold("chat.postMessage")
    clock.advance(1.05)
    deps.wake.outbox.set()
    await until(lambda: hold.arrived == 1)  # the summary's post, held
    second = [event("payment_intent.succeeded") for _ in range(100)]
    await post_all(client, second)
    await events_processed(deps, len(first) + len(second) + 1)
    hold.release()
    await run_until(clock, deps, lambda: len(file_shares(fake_slack)) == 2)

    assert len(summaries(fake_slack)) == 2
    one, two = (csv_rows(fake_slack, s) for s in file_shares(fake_slack))
    assert sorted(r["event_id"] for r in one) == sorted(e["id"] for e in first)
    assert sorted(r["event_id"] for r in two) == sorted(e["id"] for e in second)
    ids = {e["id"] for e in first + second}
    assert ids_in_posts(fake_slack, ids) == []


async def start_with_storm(
    settings: Settings,
    fake_slack: FakeSlack,
    start_app: AppFactory,
    clock: ManualClock,
    **kwargs: Any,
) -> tuple[Client, list[Json]]:
    app = await start_app(settings, OPTIONS, clock, **kwargs)
    await warm_up(app, fake_slack)
    events = [event("charge.succeeded") for _ in range(100)]
    await post_all(app, events)
    await events_processed(app.app[DEPS], len(events) + 1)
    return app, events


async def test_a_restart_between_fold_and_post_loses_and_doubles_nothing(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory, clock: ManualClock
) -> None:
    first, events = await start_with_storm(settings, fake_slack, start_app, clock)
    hold = fake_slack.hold("chat.postMessage")
    clock.advance(1.05)
    first.app[DEPS].wake.outbox.set()
    await until(lambda: hold.arrived == 1)  # the summary's post, held
    await first.close()  # stopped with the summary's post on its way
    hold.release()  # ...and Slack makes it after all
    await run_until_posted(fake_slack)

    second = await start_app(settings, OPTIONS, clock)
    await run_until(clock, second.app[DEPS], lambda: bool(file_shares(fake_slack)))
    assert len(summaries(fake_slack)) == 1, "the summary was posted twice"
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)
    assert ids_in_posts(fake_slack, {e["id"] for e in events}) == []


async def run_until_posted(fake_slack: FakeSlack) -> None:
    deadline = time.monotonic() + 10
    while not summaries(fake_slack):
        assert time.monotonic() < deadline, "the held summary was never made"
        await asyncio.sleep(0.02)


async def test_a_restart_with_slack_down_posts_the_folded_summary_later(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory, clock: ManualClock
) -> None:
    first, events = await start_with_storm(settings, fake_slack, start_app, clock)
    await fake_slack.go_down()
    deps = first.app[DEPS]

    async def folded_and_tried() -> bool:
        async with deps.sessions() as session:
            rows = (await session.execute(select(StormSummary))).scalars().all()
        return bool(rows) and rows[0].attempts > 0

    for _ in range(20):
        clock.advance(1.05)
        deps.wake.outbox.set()
        await asyncio.sleep(0.2)
        if await folded_and_tried():
            break
    assert await folded_and_tried()
    await first.close()
    await fake_slack.come_back()

    second = await start_app(settings, OPTIONS, clock)
    await run_until(clock, second.app[DEPS], lambda: bool(file_shares(fake_slack)))
    assert len(summaries(fake_slack)) == 1
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)
    assert ids_in_posts(fake_slack, {e["id"] for e in events}) == []


async def test_an_upload_answered_late_is_looked_for_not_uploaded_twice(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory, clock: ManualClock
) -> None:
    app, events = await start_with_storm(
        settings, fake_slack, start_app, clock, slack_timeout=1
    )
    # The file is shared in the thread, but the answer never reaches us.
    fake_slack.answer_late("files.completeUploadExternal", 3)
    deps = app.app[DEPS]
    await run_until(clock, deps, lambda: bool(file_shares(fake_slack)))

    async def done() -> bool:
        async with deps.sessions() as session:
            [row] = (await session.execute(select(StormSummary))).scalars().all()
        return bool(row.status == "done")

    for _ in range(40):
        if await done():
            break
        clock.advance(1.05)
        deps.wake.outbox.set()
        await asyncio.sleep(0.2)
    assert await done()
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1
    assert len(file_shares(fake_slack)) == 1
    assert fake_slack.calls_to("conversations.replies"), "it did not look first"
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)


async def test_two_instances_fold_each_alert_once(
    settings: Settings, fake_slack: FakeSlack, start_app: AppFactory, clock: ManualClock
) -> None:
    if settings.DATABASE_URL.startswith("sqlite"):
        pytest.skip("several instances need PostgreSQL; SQLite runs one")
    a = await start_app(settings, OPTIONS, clock)
    b = await start_app(settings, OPTIONS, clock)
    await warm_up(a, fake_slack)
    events = [event("charge.succeeded") for _ in range(300)]
    await asyncio.gather(post_all(a, events[::2]), post_all(b, events[1::2]))
    await events_processed(a.app[DEPS], len(events) + 1)
    ids = {e["id"] for e in events}

    def shown() -> list[str]:
        return shown_ids(fake_slack, ids)

    for _ in range(40):
        if set(shown()) == ids:
            break
        clock.advance(1.05)
        a.app[DEPS].wake.outbox.set()
        b.app[DEPS].wake.outbox.set()
        await asyncio.sleep(0.3)
    await settled(a.app[DEPS], fake_slack)
    assert sorted(shown()) == sorted(ids)
    assert len(summaries(fake_slack)) == len(file_shares(fake_slack)) >= 1


async def test_a_summary_whose_blocks_slack_refuses_goes_out_as_text(
    client: Client, fake_slack: FakeSlack, deps: Deps, clock: ManualClock
) -> None:
    await warm_up(client, fake_slack)
    events = [event("charge.failed") for _ in range(100)]
    await post_all(client, events)
    await events_processed(deps, len(events) + 1)
    fake_slack.fail_next("chat.postMessage", status=200, error="invalid_blocks")
    await run_until(clock, deps, lambda: bool(file_shares(fake_slack)))
    [summary] = summaries(fake_slack)
    assert not summary.args.get("blocks")
    assert summary.args["text"] == "Storm: 100 Stripe events, 100 failures"
    rows = csv_rows(fake_slack, file_shares(fake_slack)[0])
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)
