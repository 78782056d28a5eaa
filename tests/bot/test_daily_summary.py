"""The daily summary: its figures, its chart, once per day across instances."""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from bot.config import Settings
from bot.daily.posting import LEASE_SECONDS, RETRY_SECONDS, post_if_due, send
from bot.daily.summary import build_summary
from bot.deps import Deps
from bot.slack import make_slack_client
from simulators.slack import FakeSlack
from storage import daily_summaries
from tests import support as s
from tests.bot import daily_data as d
from tests.conftest import ManualClock
from tests.support import BOT_TOKEN

CHANNEL = "CSUMMARY"
# 09:00 on the 21st in Tokyo: the summary of the 20th is due.
DUE = d.at(21, 9)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "TIMEZONE": "Asia/Tokyo",
        "DAILY_SUMMARY_CHANNEL": CHANNEL,
        "DAILY_SUMMARY_AT": "09:00",
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DUE)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (bytes 16-24)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def seed(deps: Deps, *, received_at: float = d.LONG_AGO) -> None:
    await d.store(deps, d.the_week_before(), received_at=received_at)
    await d.store(deps, d.the_day(), received_at=received_at + 1)


async def test_a_day_of_three_currencies_counts_each_payment_once(
    deps: Deps,
) -> None:
    await seed(deps)

    summary = await build_summary(deps, d.DAY)

    text = summary.text
    assert text.startswith("*Daily summary for Friday 20 November 2026* (Asia/Tokyo)")
    assert d.block(text, "USD") == d.EXPECTED_USD
    assert d.block(text, "JPY") == d.EXPECTED_JPY
    assert d.block(text, "KWD") == d.EXPECTED_KWD
    # Ran all along: no note about a shorter period.
    assert "only since" not in text


async def test_a_bot_younger_than_the_period_says_so(deps: Deps) -> None:
    # First event stored on the 17th at 10:00: of the 7 days before the 20th
    # it saw the 17th, 18th and 19th; of the 14 charted, those and the 20th.
    await seed(deps, received_at=d.at(17, 10))

    text = (await build_summary(deps, d.DAY)).text

    assert (
        "_The bot has been storing events only since Tuesday 17 November 2026 "
        "10:00: the averages cover 3 of 7 days and the chart 4 of 14._"
    ) in text
    # The average is over the 3 days it saw: USD 70.00 on the 19th, JPY none.
    assert "• Payments: 3 succeeded, 60.50 USD gross (avg 0.3, 23.33 USD)" in text
    assert "• Payments: 1 succeeded, 5,000 JPY gross (avg 0.0, 0 JPY)" in text


async def test_the_summary_and_its_chart_reach_the_channel(
    deps: Deps, fake_slack: FakeSlack
) -> None:
    await seed(deps)

    assert await post_if_due(deps)

    [share] = fake_slack.messages[CHANNEL]
    assert d.block(share["text"], "JPY") == d.EXPECTED_JPY
    [file] = share["files"]
    assert file["name"] == "daily-summary-2026-11-20.png"
    assert png_size(fake_slack.content_of(file["id"])) == (1200, 675)


async def test_not_before_the_local_time(
    deps: Deps, fake_slack: FakeSlack, clock: ManualClock
) -> None:
    # 08:59 in Tokyo (23:59 UTC the day before): not yet.
    clock.t = DUE - 60
    assert not await post_if_due(deps)
    assert CHANNEL not in fake_slack.messages

    clock.t = DUE
    assert await post_if_due(deps)
    assert "Friday 20 November 2026" in fake_slack.messages[CHANNEL][0]["text"]


async def test_two_instances_racing_post_once(
    deps: Deps, settings: Settings, fake_slack: FakeSlack, clock: ManualClock
) -> None:
    await seed(deps)
    other = Deps.create(settings, clock=clock)
    try:
        first = await asyncio.gather(post_if_due(deps), post_if_due(other))
        # Later runs of either (the catch-up job, a restart) post nothing.
        clock.advance(LEASE_SECONDS + 3600)
        again = await asyncio.gather(post_if_due(deps), post_if_due(other))
    finally:
        await other.aclose()

    assert sorted(first) == [False, True]
    assert list(again) == [False, False]
    assert len(fake_slack.messages[CHANNEL]) == 1


async def test_a_claim_left_by_a_crash_is_taken_over_after_its_lease(
    deps: Deps, fake_slack: FakeSlack, clock: ManualClock
) -> None:
    await seed(deps)
    async with deps.sessions() as session, session.begin():
        assert await daily_summaries.claim_day(
            session, day="2026-11-20", claimant="dead", now=clock.t, lease=300.0
        )

    assert not await post_if_due(deps)  # the claimant may still be at work
    clock.advance(301)
    assert await post_if_due(deps)

    assert len(fake_slack.messages[CHANNEL]) == 1


async def test_a_crash_after_the_upload_does_not_post_the_day_twice(
    deps: Deps, fake_slack: FakeSlack, clock: ManualClock
) -> None:
    await seed(deps)
    # An instance claimed the day, began the upload, Slack shared the file,
    # and the instance died before it could write down that it had.
    async with deps.sessions() as session, session.begin():
        await daily_summaries.claim_day(
            session, day="2026-11-20", claimant="dead", now=clock.t, lease=300.0
        )
        await daily_summaries.begin_attempt(
            session, day="2026-11-20", claimant="dead", channel=CHANNEL, now=clock.t
        )
    file_id = await send(deps, await build_summary(deps, d.DAY), channel=CHANNEL)

    clock.advance(301)
    assert not await post_if_due(deps)

    assert len(fake_slack.messages[CHANNEL]) == 1
    async with deps.sessions() as session:
        row = await daily_summaries.get_day(session, day="2026-11-20")
    assert row is not None
    assert (row.status, row.file_id) == ("posted", file_id)


async def test_slack_down_leaves_the_day_to_the_next_try(
    deps: Deps, fake_slack: FakeSlack, clock: ManualClock
) -> None:
    await seed(deps)
    await fake_slack.go_down()
    assert not await post_if_due(deps)
    await fake_slack.come_back()
    assert CHANNEL not in fake_slack.messages

    # Not before the retry wait, then once.
    clock.advance(60)
    assert not await post_if_due(deps)

    clock.advance(RETRY_SECONDS)
    assert await post_if_due(deps)
    assert len(fake_slack.messages[CHANNEL]) == 1


async def test_an_empty_fortnight_still_makes_a_chart_of_the_same_size(
    deps: Deps,
) -> None:
    summary = await build_summary(deps, d.DAY)

    assert png_size(summary.chart) == (1200, 675)
    assert "No payments, refunds, disputes or payouts" in summary.text
    assert "has not stored any Stripe event yet" in summary.text


async def test_an_answer_lost_after_slack_shared_the_file_is_not_posted_again(
    deps: Deps, fake_slack: FakeSlack, clock: ManualClock
) -> None:
    await seed(deps)
    # Slack shares the file but its answer comes after the client gave up.
    impatient = dataclasses.replace(
        deps,
        slack=make_slack_client(
            token=BOT_TOKEN,
            base_url=deps.settings.SLACK_API_URL,
            metrics=deps.metrics,
            timeout=1,
        ),
    )
    fake_slack.answer_late("files.completeUploadExternal", seconds=3)

    assert not await post_if_due(impatient)
    assert len(fake_slack.messages[CHANNEL]) == 1

    clock.advance(RETRY_SECONDS)
    assert not await post_if_due(deps)  # found in the channel instead

    [share] = fake_slack.messages[CHANNEL]
    async with deps.sessions() as session:
        row = await daily_summaries.get_day(session, day="2026-11-20")
    assert row is not None
    assert (row.status, row.file_id, row.attempts) == (
        "posted",
        share["files"][0]["id"],
        1,
    )


@pytest.mark.parametrize(
    ("settings_overrides", "local_day", "hours"),
    [
        # Berlin leaves summer time on 25 October 2026: a 25-hour day.
        ({"TIMEZONE": "Europe/Berlin"}, date(2026, 10, 25), 25),
        # New York starts it on 8 March 2026: a 23-hour day.
        ({"TIMEZONE": "America/New_York"}, date(2026, 3, 8), 23),
    ],
)
async def test_a_local_day_across_a_dst_change(
    deps: Deps, local_day: date, hours: int
) -> None:
    zone = deps.settings.zone
    start = datetime.combine(local_day, time(0), zone).timestamp()
    end = datetime.combine(local_day + timedelta(days=1), time(0), zone).timestamp()
    assert end - start == hours * 3600
    inside = [int(start), int(end) - 60]  # the first and the last minute
    outside = [int(start) - 60, int(end)]
    events = [
        d.event_at(
            "payment_intent.succeeded",
            s.payment_intent(amount=1000, amount_received=1000),
            t,
        )
        for t in inside + outside
    ]
    await d.store(deps, events, received_at=start - 30 * 86400)

    text = (await build_summary(deps, local_day)).text

    assert "• Payments: 2 succeeded, 20.00 USD gross" in text
