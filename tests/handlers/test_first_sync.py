"""A fresh deployment reads Stripe's open disputes at once, says it is still
reading until then (on every instance), and posts one card per dispute whether
reconcile or the `created` event finds it first."""

from __future__ import annotations

import asyncio
import json
import time

from sqlalchemy import select, update
from sqlmodel import col

from bot.config import Settings
from bot.deps import Deps
from bot.server import DEPS, Options
from handlers.jobs import disputes as dispute_jobs
from simulators.slack import FakeSlack
from simulators.slack_requests import event_callback_body
from simulators.stripe import FakeStripe
from storage.models import Dispute, OutboxMessage, StripeEvent
from tests.conftest import FAST, AppFactory
from tests.handlers.helpers import Client, command, eventually, post_signed, text_of
from tests.handlers.test_disputes import (
    deliver,
    dispute_event,
    posted_card,
    seed_dispute,
    thread_reply,
)
from tests.support import event, signed

# What a real deployment runs: the read of Stripe at start included.
PRODUCTION = Options(policy=FAST)
DAY = 86400


async def home_view(client: Client, fake_slack: FakeSlack, user_id: str) -> str:
    before = len(fake_slack.calls_to("views.publish"))
    body = event_callback_body(
        event={"type": "app_home_opened", "user": user_id, "tab": "home"}
    )
    await post_signed(client, body)
    calls = await fake_slack.wait_for_calls("views.publish", before + 1)
    return json.dumps(calls[-1].args["view"])


async def card_keys(deps: Deps, dispute_id: str) -> list[str]:
    """Outbox keys of top-level posts about the dispute (its cards)."""
    async with deps.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage).where(
                col(OutboxMessage.kind) == "post",
                col(OutboxMessage.thread_key).is_(None),
            )
        )
        return sorted(
            m.key for m in rows.scalars().all() if dispute_id in json.dumps(m.blocks)
        )


async def processed(deps: Deps, event_id: str) -> bool:
    async with deps.sessions() as session:
        row = await session.get(StripeEvent, event_id)
        return row is not None and row.status == "processed"


async def test_a_fresh_deployment_posts_and_lists_open_disputes_at_once(
    settings: Settings,
    start_app: AppFactory,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
) -> None:
    soon = seed_dispute(fake_stripe, due_in=2 * DAY)
    later = seed_dispute(fake_stripe, due_in=6 * DAY)
    closed = seed_dispute(fake_stripe, status="lost")

    client = await start_app(settings, PRODUCTION)

    await posted_card(fake_slack, soon["id"])
    await posted_card(fake_slack, later["id"])
    said = text_of(await command(client, fake_slack, "disputes"))
    assert "(2)" in said
    assert said.index(soon["id"]) < said.index(later["id"])
    assert closed["id"] not in said
    assert "still reading" not in said


async def test_until_the_first_read_finishes_the_bot_says_it_is_still_reading(
    settings: Settings,
    start_app: AppFactory,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
) -> None:
    dispute = seed_dispute(fake_stripe)
    stripe_is_slow = fake_stripe.hold("GET", "/v1/disputes")

    client = await start_app(settings, PRODUCTION)
    await eventually(
        lambda: fake_stripe.requests_to("GET", "/v1/disputes"),
        what="the read of Stripe's disputes at start",
    )

    # Stripe has not answered yet; webhooks and Slack are answered meanwhile.
    body, headers = signed(event("payout.failed"))
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 200
    said = text_of(await command(client, fake_slack, "disputes"))
    assert "still reading the open disputes from Stripe" in said
    assert "No dispute is waiting" not in said
    home = await home_view(client, fake_slack, "U_AGENT")
    assert "still reading the open disputes from Stripe" in home
    assert "No dispute is waiting" not in home
    assert stripe_is_slow.arrived == 1  # still held: nothing waited for it

    stripe_is_slow.release()
    await posted_card(fake_slack, dispute["id"])

    async def listed() -> str | None:
        said = text_of(await command(client, fake_slack, "disputes"))
        return said if dispute["id"] in said else None

    said = await eventually(listed, what="the dispute to be listed")
    assert "still reading" not in said
    assert "still reading" not in await home_view(client, fake_slack, "U_AGENT")


async def test_a_failed_first_read_is_retried_and_says_still_reading_meanwhile(
    settings: Settings,
    start_app: AppFactory,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
) -> None:
    dispute = seed_dispute(fake_stripe)
    fake_stripe.fail_next("GET", "/v1/disputes", status=500, count=3)

    client = await start_app(settings, PRODUCTION)
    said = text_of(await command(client, fake_slack, "disputes"))
    assert "still reading" in said

    await posted_card(fake_slack, dispute["id"])
    said = await eventually(
        lambda: _listed(client, fake_slack, dispute["id"]), what="the dispute listed"
    )
    assert "still reading" not in said


async def _listed(client: Client, fake_slack: FakeSlack, dispute_id: str) -> str | None:
    said = text_of(await command(client, fake_slack, "disputes"))
    return said if dispute_id in said else None


async def test_a_second_instance_on_a_read_database_does_not_say_still_reading(
    settings: Settings,
    start_app: AppFactory,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
) -> None:
    dispute = seed_dispute(fake_stripe)
    first = await start_app(settings, PRODUCTION)
    await posted_card(fake_slack, dispute["id"])
    await eventually(
        lambda: _listed(first, fake_slack, dispute["id"]), what="the first read"
    )

    # The second instance's own read is held at Stripe: what it says comes
    # from the database the first instance filled.
    fake_stripe.hold("GET", "/v1/disputes")
    before = len(fake_stripe.requests_to("GET", "/v1/disputes"))
    second = await start_app(settings, PRODUCTION)
    await eventually(
        lambda: len(fake_stripe.requests_to("GET", "/v1/disputes")) > before,
        what="the second instance's read at start",
    )
    said = text_of(await command(second, fake_slack, "disputes"))
    assert dispute["id"] in said
    assert "still reading" not in said
    assert "still reading" not in await home_view(second, fake_slack, "U_AGENT")


async def test_a_created_event_after_reconcile_posts_no_second_card(
    settings: Settings,
    start_app: AppFactory,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
) -> None:
    dispute = seed_dispute(fake_stripe)
    client = await start_app(settings, PRODUCTION)
    await posted_card(fake_slack, dispute["id"])
    created = dispute_event(
        fake_stripe, "charge.dispute.created", dispute, created=int(time.time()) - 30
    )
    await deliver(client, created)

    app = client.app
    assert app is not None
    deps = app[DEPS]
    await eventually(lambda: processed(deps, created["id"]), what="event processed")
    # Whatever the event queued committed with its `processed` mark.
    assert await card_keys(deps, dispute["id"]) == [f"dispute:{dispute['id']}"]
    # The event's own alert is a reply in the card's thread.
    card = await posted_card(fake_slack, dispute["id"])
    await thread_reply(fake_slack, card, "Dispute opened")


async def test_reconcile_after_the_created_event_posts_no_second_card(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute = seed_dispute(fake_stripe)
    created = dispute_event(
        fake_stripe, "charge.dispute.created", dispute, created=int(time.time()) - 30
    )
    await deliver(client, created)
    await posted_card(fake_slack, dispute["id"])

    await dispute_jobs.reconcile(deps)

    assert await card_keys(deps, dispute["id"]) == [f"alert:{created['id']}"]
    said = text_of(await command(client, fake_slack, "disputes"))
    assert dispute["id"] in said


async def test_an_event_and_a_reconcile_at_the_same_time_post_one_card(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    seeded = [seed_dispute(fake_stripe) for _ in range(5)]
    events = [
        dispute_event(
            fake_stripe, "charge.dispute.created", d, created=int(time.time()) - 30
        )
        for d in seeded
    ]
    await asyncio.gather(
        dispute_jobs.reconcile(deps), *(deliver(client, e) for e in events)
    )

    async def all_processed() -> bool:
        return all([await processed(deps, e["id"]) for e in events])

    await eventually(all_processed, what="the events processed")
    for d in seeded:
        assert len(await card_keys(deps, d["id"])) == 1, d["id"]


async def test_a_submission_a_crash_left_unsent_does_not_hold_up_the_start(
    settings: Settings,
    start_app: AppFactory,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
) -> None:
    dispute = seed_dispute(fake_stripe)
    seeding = Deps.create(settings)
    try:
        await dispute_jobs.reconcile(seeding)
        async with seeding.sessions() as session, session.begin():
            # Claimed five minutes ago; the instance died before Stripe answered.
            await session.execute(
                update(Dispute)
                .where(col(Dispute.id) == dispute["id"])
                .values(submitted_by="U_AGENT", submitted_at=time.time() - 300)
            )
    finally:
        await seeding.aclose()
    stripe_is_slow = fake_stripe.hold("POST", f"/v1/disputes/{dispute['id']}")

    # The server comes up and answers while Stripe sits on the resent call.
    client = await asyncio.wait_for(start_app(settings, PRODUCTION), timeout=10)
    body, headers = signed(event("payout.failed"))
    assert (
        await client.post("/stripe/webhook", data=body, headers=headers)
    ).status == 200
    said = text_of(await command(client, fake_slack, "disputes"))
    assert dispute["id"] in said

    stripe_is_slow.release()
    (sent,) = await eventually(
        lambda: fake_stripe.requests_to("POST", f"/v1/disputes/{dispute['id']}"),
        what="the submission resent",
    )
    assert sent.params.get("submit") == "true"
    assert sent.idempotency_key
