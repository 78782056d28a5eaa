"""Alert rules (ALERT_RULES) through signed webhooks and the fake Slack:
every condition and action, first match wins, what cannot be muted, and
`/stripe alerts` counting what each rule took."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.config import Settings
from bot.deps import Deps
from handlers.jobs import disputes as dispute_jobs
from simulators.slack import FakeSlack
from simulators.slack_requests import slash_command_body
from simulators.stripe import FakeStripe
from storage.models import Dispute, OutboxMessage, StripeEvent
from tests.handlers.helpers import (
    APPROVALS,
    Client,
    Json,
    command,
    message_saying,
    post_signed,
    status_becomes,
    text_of,
)
from tests.handlers.test_disputes import (
    deliver,
    dispute_event,
    posted_card,
    seed_dispute,
)
from tests.handlers.test_refunds import approve, paid, request
from tests.settle import events_processed, settled
from tests.support import charge, event, payment_intent, payout

RULES = """\
# Small payments are noise.
[[rules]]
events = ["charge.succeeded"]
below = { usd = "100.00", jpy = "10000" }
mute = true

[[rules]]
events = ["charge.succeeded"]
at_least = { usd = "1000.00" }
channel = "CBIGMONEY"
mention = ["S0FINANCE", "U0ONCALL"]

# Live payouts to finance; the rule below would mute them too, but this one
# comes first.
[[rules]]
events = ["payout.*"]
livemode = true
channel = "CFINANCE"
mention = ["S0FINANCE"]

[[rules]]
events = ["payout.*"]
mute = true

[[rules]]
events = ["payment_intent.*"]
account = "acct_1PARTNER"
channel = "CPARTNER"

[[rules]]
events = ["charge.dispute.*"]
mute = true
channel = "CDISPUTEDESK"
mention = ["S0DISPUTES"]

[[rules]]
events = ["refund.*", "charge.refund.updated"]
mute = true
"""


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "alert-rules.toml"
    path.write_text(RULES)
    return {"ALERT_RULES": str(path)}


def rule_key(settings: Settings, number: int) -> str:
    return settings.ALERT_RULES.rules[number - 1].key


async def send(client: Client, evt: Json) -> str:
    await deliver(client, evt)
    return str(evt["id"])


def posts_naming(fake_slack: FakeSlack, needle: str) -> list[tuple[str, Json]]:
    """(channel, message) for every message that names `needle`."""
    return [
        (channel, message)
        for channel, messages in fake_slack.messages.items()
        for message in messages
        if needle in text_of(message)
    ]


async def taken_by(deps: Deps, event_id: str) -> tuple[str, str | None]:
    async with deps.sessions() as session:
        row = (
            await session.execute(
                select(col(StripeEvent.status), col(StripeEvent.alert_rule)).where(
                    col(StripeEvent.id) == event_id
                )
            )
        ).one()
    return row[0], row[1]


async def queued(deps: Deps, event_id: str) -> bool:
    async with deps.sessions() as session:
        key = await session.scalar(
            select(col(OutboxMessage.key)).where(
                col(OutboxMessage.key) == f"alert:{event_id}"
            )
        )
    return key is not None


def usd_charge(amount: int, currency: str = "usd") -> Json:
    return event("charge.succeeded", charge(amount=amount, currency=currency))


async def test_a_muted_event_is_stored_and_counted_but_not_posted(
    client: Client, fake_slack: FakeSlack, deps: Deps, settings: Settings
) -> None:
    small = usd_charge(2000)
    yen = usd_charge(5000, "jpy")  # ¥5,000: below ¥10,000 (JPY has no decimals)
    usual = usd_charge(50000)  # $500.00: no rule takes it
    for evt in (small, yen, usual):
        await send(client, evt)
    await settled(deps, fake_slack)

    for evt in (small, yen):
        assert await taken_by(deps, evt["id"]) == ("processed", rule_key(settings, 1))
        assert not await queued(deps, evt["id"])
        assert posts_naming(fake_slack, evt["data"]["object"]["id"]) == []
    assert await taken_by(deps, usual["id"]) == ("processed", None)
    ((channel, _),) = posts_naming(fake_slack, usual["data"]["object"]["id"])
    assert channel == "CPAYMENTS"

    answer = await command(client, fake_slack, "alerts")
    said = text_of(answer)
    assert (
        "Rule 1 (line 2): charge.succeeded, amount below 100.00 USD or 10,000 JPY"
        in said
    )
    assert "not posted (stored and counted)" in said
    assert "*2 events* in the last 24 hours" in said
    assert "No rule took 1 event in the last 24 hours" in said


async def test_amounts_are_compared_in_major_units_of_the_named_currencies(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    cases = {
        "muted": usd_charge(9999),  # $99.99 < $100.00
        "CPAYMENTS": usd_charge(10000),  # $100.00 is not below $100.00
        "CBIGMONEY": usd_charge(100000),  # $1,000.00 is at least $1,000.00
        # EUR is named by no rule: neither condition holds for it.
        "CPAYMENTS eur": usd_charge(2000, "eur"),
    }
    for evt in cases.values():
        await send(client, evt)
    await settled(deps, fake_slack)

    found = {
        label: posts_naming(fake_slack, evt["data"]["object"]["id"])
        for label, evt in cases.items()
    }
    assert found["muted"] == []
    assert [c for c, _ in found["CPAYMENTS"]] == ["CPAYMENTS"]
    assert [c for c, _ in found["CPAYMENTS eur"]] == ["CPAYMENTS"]
    ((channel, big),) = found["CBIGMONEY"]
    assert channel == "CBIGMONEY"
    assert big["text"].startswith("<!subteam^S0FINANCE> <@U0ONCALL> ")
    assert big["blocks"][0]["text"]["text"] == "<!subteam^S0FINANCE> <@U0ONCALL>"
    # Nobody is pinged where no rule says so.
    assert "subteam" not in text_of(found["CPAYMENTS"][0][1])


async def test_the_first_matching_rule_wins_and_livemode_is_a_condition(
    client: Client, fake_slack: FakeSlack, deps: Deps, settings: Settings
) -> None:
    live = event("payout.failed", payout(livemode=True), livemode=True)
    test = event("payout.failed", payout(), livemode=False)
    for evt in (live, test):
        await send(client, evt)
    await settled(deps, fake_slack)

    ((channel, message),) = posts_naming(fake_slack, live["data"]["object"]["id"])
    assert channel == "CFINANCE"
    assert message["text"].startswith("<!subteam^S0FINANCE> ")
    assert await taken_by(deps, live["id"]) == ("processed", rule_key(settings, 3))
    assert posts_naming(fake_slack, test["data"]["object"]["id"]) == []
    assert await taken_by(deps, test["id"]) == ("processed", rule_key(settings, 4))


async def test_the_account_condition_routes_one_connected_account(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    partner = event("payment_intent.succeeded", payment_intent())
    partner["account"] = "acct_1PARTNER"
    other = event("payment_intent.succeeded", payment_intent())
    other["account"] = "acct_1SOMEONE"
    platform = event("payment_intent.succeeded", payment_intent())
    for evt in (partner, other, platform):
        await send(client, evt)
    await settled(deps, fake_slack)

    assert [c for c, _ in posts_naming(fake_slack, partner["id"])] == ["CPARTNER"]
    assert [c for c, _ in posts_naming(fake_slack, other["id"])] == ["CPAYMENTS"]
    assert [c for c, _ in posts_naming(fake_slack, platform["id"])] == ["CPAYMENTS"]


async def test_a_dispute_card_cannot_be_muted_but_goes_where_the_rule_says(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    settings: Settings,
) -> None:
    dispute = seed_dispute(fake_stripe)
    created = dispute_event(fake_stripe, "charge.dispute.created", dispute)
    await send(client, created)
    card = await posted_card(fake_slack, dispute["id"])
    assert fake_slack.messages["CDISPUTEDESK"] == [card]
    assert card["text"].startswith("<!subteam^S0DISPUTES> ")
    assert any(block["type"] == "actions" for block in card["blocks"])

    # A later event of the dispute would reply in the card's thread: muted.
    updated = dispute_event(
        fake_stripe, "charge.dispute.updated", dict(dispute, reason="fraudulent")
    )
    await send(client, updated)
    await settled(deps, fake_slack)
    assert [m for m in fake_slack.messages["CDISPUTEDESK"] if m.get("thread_ts")] == []
    assert await taken_by(deps, updated["id"]) == ("processed", rule_key(settings, 6))
    assert not await queued(deps, updated["id"])
    # The event's state is taken all the same.
    async with deps.sessions() as session:
        row = await session.get(Dispute, dispute["id"])
    assert row is not None
    assert row.reason == "fraudulent"

    answer = await command(client, fake_slack, "alerts")
    assert "dispute cards cannot be muted" in text_of(answer)


async def test_a_refund_requests_thread_is_not_muted(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    fake_stripe.refund_status = "pending"
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5")
    await approve(client, fake_slack, request_id)
    row = await status_becomes(deps, request_id, "succeeded")
    await message_saying(fake_slack, APPROVALS, "pending")
    refund = dict(fake_stripe.object(row.refund_id or ""))
    refund["status"] = "succeeded"
    updated = event("refund.updated", refund, created=refund["created"] + 60)
    await send(client, updated)

    reply = await message_saying(
        fake_slack, APPROVALS, "now *succeeded*", thread_ts=message["ts"]
    )
    assert refund["id"] in json.dumps(reply)
    await settled(deps, fake_slack)
    # The refunds channel's alert is what the rule mutes.
    assert fake_slack.messages.get("CREFUNDS", []) == []


async def test_help_lists_alerts(client: Client, fake_slack: FakeSlack) -> None:
    body = slash_command_body(text="help", response_url=fake_slack.response_url())
    answer = await (await post_signed(client, body)).json()
    assert (
        "`/stripe alerts`: the alert rules in force, and how many events each "
        "took in the last 24 hours" in answer["text"]
    )


async def test_a_card_found_by_reconcile_follows_the_rule_of_its_created_event(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    # No charge.dispute.created reached us: reconcile finds the dispute.
    unseen = seed_dispute(fake_stripe)
    await dispute_jobs.reconcile(deps)
    card = await posted_card(fake_slack, unseen["id"])
    assert fake_slack.messages["CDISPUTEDESK"] == [card]
    assert card["text"].startswith("<!subteam^S0DISPUTES> ")
    assert fake_slack.messages.get("CDISPUTES", []) == []


async def test_alerts_that_mention_someone_are_never_folded_into_a_digest(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    # Slack down: the alerts wait in the outbox, more than a digest takes.
    await fake_slack.go_down()
    big = [usd_charge(250000) for _ in range(6)]
    plain = [usd_charge(50000) for _ in range(6)]
    for evt in big + plain:
        await send(client, evt)
    await events_processed(deps, len(big) + len(plain))
    await fake_slack.come_back()
    await settled(deps, fake_slack)

    posted = fake_slack.messages["CBIGMONEY"]
    assert len(posted) == len(big)
    for message, evt in zip(posted, big, strict=True):
        assert message["text"].startswith("<!subteam^S0FINANCE> <@U0ONCALL> ")
        assert evt["data"]["object"]["id"] in text_of(message)
    # The same storm without mentions is folded, as ever.
    assert len(fake_slack.messages["CPAYMENTS"]) < len(plain)
