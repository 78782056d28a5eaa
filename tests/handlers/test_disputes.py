"""Disputes: state from events and reconcile, the alert card, commands, Take, Accept."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select
from sqlmodel import col

from bot.blocks import OPEN_IN_STRIPE_ACTION
from bot.blocks import disputes as blocks
from bot.deps import Deps
from handlers.jobs import disputes as dispute_jobs
from simulators.slack import FakeSlack, SlackCall
from simulators.slack_requests import block_action_body, view_submission_body
from simulators.stripe import FakeStripe
from storage.models import AuditLog, Dispute, OutboxMessage
from tests.handlers.helpers import (
    Client,
    Json,
    command,
    eventually,
    post_signed,
    text_of,
)
from tests.settle import bolt_idle, events_processed
from tests.support import event, signed

DISPUTES = "CDISPUTES"
DAY = 86400

# -- helpers shared by the dispute test modules --------------------------------------


def seed_dispute(
    fake_stripe: FakeStripe,
    *,
    reason: str = "product_not_received",
    status: str = "needs_response",
    due_in: float | None = 5 * DAY,
    now: float | None = None,
    amount: int = 2500,
    name: str = "Jenny Rosen",
    email: str = "jenny@example.com",
) -> Json:
    """A customer, a paid payment and its dispute in the fake Stripe account."""
    now = time.time() if now is None else now
    address = {"line1": "1 Main St", "city": "Springfield", "country": "US"}
    customer = fake_stripe.add_customer(
        email=email,
        name=name,
        address=address,
        shipping={"name": name, "address": address},
    )
    _, charge = fake_stripe.add_payment(
        customer_id=customer["id"],
        amount=amount,
        description="Blue running shoes, size 42",
        created=int(now) - 20 * DAY,
    )
    due_by = 0 if due_in is None else int(now + due_in)
    dispute = fake_stripe.add_dispute(
        charge["id"], reason=reason, status=status, due_by=due_by, created=int(now)
    )
    if due_in is None:
        # add_dispute treats 0 as "use the default": set what Stripe would send.
        dispute["evidence_details"]["due_by"] = 0
    return dispute


async def deliver(client: Client, evt: Json) -> None:
    body, headers = signed(evt)
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 200


def dispute_event(
    fake_stripe: FakeStripe | None,
    event_type: str,
    obj: Json,
    *,
    created: int | None = None,
) -> Json:
    """An event carrying a copy of the object as it is now."""
    return event(event_type, copy.deepcopy(obj), created=created)


async def open_dispute(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, **seed: Any
) -> tuple[Json, Json]:
    """Seed a dispute, deliver charge.dispute.created; (dispute, its alert post)."""
    dispute = seed_dispute(fake_stripe, **seed)
    # Events reach us a little after Stripe made them; a reconcile snapshot taken
    # in the same second would lose to them (ties go to the event).
    created = int(time.time()) - 30
    await deliver(
        client,
        dispute_event(fake_stripe, "charge.dispute.created", dispute, created=created),
    )
    alert = await posted_card(fake_slack, dispute["id"])
    return dispute, alert


def _card_posts(fake_slack: FakeSlack, dispute_id: str) -> list[SlackCall]:
    return [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if c.status == 200
        and dispute_id in json.dumps(c.args)
        and not c.args.get("thread_ts")
    ]


def _thread_posts(fake_slack: FakeSlack, dispute_id: str) -> list[SlackCall]:
    return [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if c.status == 200
        and dispute_id in json.dumps(c.args)
        and c.args.get("thread_ts")
    ]


async def posted_card(fake_slack: FakeSlack, dispute_id: str) -> Json:
    """The first top-level message about the dispute, once Slack has it."""
    calls = await eventually(
        lambda: _card_posts(fake_slack, dispute_id), what=f"alert for {dispute_id}"
    )
    ts = calls[0].response["ts"]
    return fake_slack.message(calls[0].args["channel"], ts)


async def card_saying(fake_slack: FakeSlack, alert: Json, needle: str) -> Json:
    """The alert message, once an edit made it say `needle`."""

    def current() -> Json | None:
        msg = fake_slack.message(DISPUTES, alert["ts"])
        return msg if needle in text_of(msg) else None

    found: Json = await eventually(current, what=f"alert to say {needle!r}")
    return found


async def thread_reply(fake_slack: FakeSlack, alert: Json, needle: str) -> Json:
    def find() -> Json | None:
        for msg in fake_slack.messages.get(DISPUTES, []):
            if msg.get("thread_ts") == alert["ts"] and needle in text_of(msg):
                return msg
        return None

    found: Json = await eventually(find, what=f"thread reply saying {needle!r}")
    return found


def action_ids(message: Json) -> list[str]:
    return [
        element["action_id"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
        # The *Open in Stripe* link acts on nothing: only buttons that do count.
        if element["action_id"] != OPEN_IN_STRIPE_ACTION
    ]


async def dispute_row(deps: Deps, dispute_id: str) -> Dispute:
    async with deps.sessions() as session:
        row = await session.get(Dispute, dispute_id)
    assert row is not None
    return row


async def audit_of(deps: Deps, dispute_id: str) -> list[tuple[str, str]]:
    async with deps.sessions() as session:
        rows = await session.execute(
            select(AuditLog)
            .where(col(AuditLog.subject) == dispute_id)
            .order_by(col(AuditLog.id))
        )
        return [(r.actor, r.action) for r in rows.scalars().all()]


async def press(
    client: Client,
    fake_slack: FakeSlack,
    action_id: str,
    dispute_id: str,
    *,
    user_id: str = "U_AGENT",
    ts: str = "1700000000.000100",
    ephemeral: bool = False,
) -> str:
    """Click a dispute card's button; returns the click's response_url."""
    url = fake_slack.response_url()
    body = block_action_body(
        action_id=action_id,
        value=dispute_id,
        user_id=user_id,
        channel_id=DISPUTES,
        message_ts=ts,
        response_url=url,
    )
    if ephemeral:
        body = _ephemeral_body(body)
    await post_signed(client, body)
    return url


def _ephemeral_body(body: str) -> str:
    """The same click, on a message only the clicker sees (a command answer)."""
    payload = json.loads(parse_qs(body)["payload"][0])
    payload["container"]["is_ephemeral"] = True
    return urlencode({"payload": json.dumps(payload)})


async def submit_view(
    client: Client,
    callback_id: str,
    dispute_id: str,
    *,
    user_id: str = "U_AGENT",
    state: dict[str, dict[str, dict[str, Any]]] | None = None,
    view_id: str = "V_DISPUTE",
) -> Json:
    """Submit one of the dispute modals; returns Slack's answer (the ack body)."""
    body = view_submission_body(
        callback_id=callback_id,
        state_values=state or {},
        user_id=user_id,
        private_metadata=dispute_id,
        view_id=view_id,
    )
    resp = await post_signed(client, body)
    raw = await resp.text()
    return json.loads(raw) if raw else {}


async def view_update_saying(fake_slack: FakeSlack, view_id: str, needle: str) -> Json:
    """The modal (by ID, or ID prefix) once an update made it say `needle`."""

    def find() -> Json | None:
        for call in fake_slack.calls_to("views.update"):
            if str(call.args.get("view_id")).startswith(
                view_id
            ) and needle in json.dumps(call.args["view"]):
                return dict(call.args["view"])
        return None

    found: Json = await eventually(find, what=f"modal {view_id} to say {needle!r}")
    return found


async def opened_view(fake_slack: FakeSlack, count: int = 1) -> Json:
    calls = await fake_slack.wait_for_calls("views.open", count)
    return dict(calls[count - 1].args["view"])


# -- the alert ------------------------------------------------------------------------


async def test_a_new_dispute_gets_an_alert_with_deadline_and_buttons(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, alert = await open_dispute(client, fake_stripe, fake_slack)
    said = text_of(alert)
    due_by = dispute["evidence_details"]["due_by"]
    assert "25.00 USD" in said
    assert "product not received" in said
    assert "needs response" in said
    assert dispute["charge"] in said
    assert f"<!date^{due_by}^" in said
    assert "in 4 days" in said or "in 5 days" in said
    assert action_ids(alert) == [
        blocks.ACTION_EDIT,
        blocks.ACTION_SUBMIT,
        blocks.ACTION_ACCEPT,
        blocks.ACTION_TAKE,
    ]
    row = await dispute_row(deps, dispute["id"])
    assert row.alert_key == f"alert:{row.version_event}"
    assert row.status == "needs_response"


async def test_the_alert_learns_who_paid_from_the_charge(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    # Webhook events name the charge by ID only; a job reads it right after.
    dispute, alert = await open_dispute(client, fake_stripe, fake_slack)
    assert "Jenny Rosen" not in text_of(alert)
    await dispute_jobs.fill_in_customers(deps)
    edited = await card_saying(fake_slack, alert, "Jenny Rosen")
    assert "jenny@example.com" in text_of(edited)
    charge_reads = fake_stripe.requests_to("GET", f"/v1/charges/{dispute['charge']}")
    assert len(charge_reads) == 1
    await dispute_jobs.fill_in_customers(deps)  # read once, not every run
    assert len(fake_stripe.requests_to("GET", "/v1/charges/")) == 1


async def test_dispute_alerts_are_never_folded_into_a_digest(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    await fake_slack.go_down()
    opened = [seed_dispute(fake_stripe) for _ in range(6)]
    for dispute in opened:
        await deliver(
            client, dispute_event(fake_stripe, "charge.dispute.created", dispute)
        )
    # Every card queued while Slack is down: past the digest threshold.
    await events_processed(deps, len(opened))
    await fake_slack.come_back()
    for dispute in opened:
        alert = await posted_card(fake_slack, dispute["id"])
        assert blocks.ACTION_SUBMIT in action_ids(alert)
    digests = [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if "Stripe events" in str(c.args)
    ]
    assert digests == []


async def test_due_by_zero_says_the_bank_allows_no_response(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, alert = await open_dispute(client, fake_stripe, fake_slack, due_in=None)
    assert "the bank allows no response" in text_of(alert)
    assert (await dispute_row(deps, dispute["id"])).due_by is None


async def test_closed_before_updated_keeps_the_dispute_closed(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute = seed_dispute(fake_stripe)
    t = int(time.time())
    opened = dispute_event(fake_stripe, "charge.dispute.created", dispute, created=t)
    dispute["status"] = "under_review"
    dispute["evidence_details"]["submission_count"] = 1
    updated = dispute_event(
        fake_stripe, "charge.dispute.updated", dispute, created=t + 10
    )
    dispute["status"] = "lost"
    closed = dispute_event(
        fake_stripe, "charge.dispute.closed", dispute, created=t + 20
    )

    await deliver(client, closed)
    await eventually(
        lambda: _card_posts(fake_slack, dispute["id"]), what="the closed alert"
    )
    await deliver(client, updated)
    await deliver(client, opened)

    async def all_processed() -> bool:
        return len(_thread_posts(fake_slack, dispute["id"])) >= 2

    await eventually(all_processed, what="an alert for each of the three events")
    row = await dispute_row(deps, dispute["id"])
    assert row.status == "lost"
    assert row.version_event == closed["id"]
    calls = _card_posts(fake_slack, dispute["id"])
    posts = [json.dumps(c.args) for c in calls]
    # One card, for the closed one, showing the dispute as it is now; the
    # `updated` and the late `created` replied in its thread (one dispute, one
    # card, whichever event comes first).
    assert len(posts) == 1
    assert "Dispute lost" in posts[0]
    assert "response needed" not in posts[0]
    assert blocks.ACTION_SUBMIT not in posts[0]
    replies = _thread_posts(fake_slack, dispute["id"])
    assert calls[0].response is not None
    assert {r.args["thread_ts"] for r in replies} == {calls[0].response["ts"]}
    said = json.dumps([r.args for r in replies])
    assert "Dispute updated" in said
    assert "Dispute opened" in said


async def test_later_events_reply_in_the_cards_thread(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    dispute, alert = await open_dispute(client, fake_stripe, fake_slack)
    # Evidence saved (by us or in the Dashboard): the card changes, the channel
    # gets no new message.
    dispute["evidence"]["customer_name"] = "Jenny Rosen"
    await deliver(client, dispute_event(fake_stripe, "charge.dispute.updated", dispute))
    updated = await thread_reply(fake_slack, alert, "Dispute updated")
    assert not updated.get("reply_broadcast")
    # Money leaving the account is shown in the channel too.
    await deliver(
        client, dispute_event(fake_stripe, "charge.dispute.funds_withdrawn", dispute)
    )
    withdrawn = await thread_reply(fake_slack, alert, "Dispute funds withdrawn")
    assert withdrawn.get("reply_broadcast") is True
    assert len(_card_posts(fake_slack, dispute["id"])) == 1


async def test_state_changes_edit_the_alert(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, alert = await open_dispute(client, fake_stripe, fake_slack)
    dispute["status"] = "won"
    await deliver(client, dispute_event(fake_stripe, "charge.dispute.closed", dispute))
    edited = await card_saying(fake_slack, alert, "Dispute won")
    assert action_ids(edited) == []
    assert (await dispute_row(deps, dispute["id"])).status == "won"


# -- reconcile ----------------------------------------------------------------


async def test_reconcile_repairs_missed_events_and_finds_unseen_disputes(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    known, alert = await open_dispute(client, fake_stripe, fake_slack)
    # Stripe decided while our webhook endpoint was down: no event came.
    fake_stripe.object(known["id"])["status"] = "lost"
    unseen = seed_dispute(fake_stripe, reason="fraudulent", amount=9900)
    old_closed = seed_dispute(fake_stripe, status="won")

    await dispute_jobs.reconcile(deps)

    assert (await dispute_row(deps, known["id"])).status == "lost"
    await card_saying(fake_slack, alert, "Dispute lost")
    new_alert = await posted_card(fake_slack, unseen["id"])
    assert "99.00 USD" in text_of(new_alert)
    assert blocks.ACTION_EDIT in action_ids(new_alert)
    unseen_row = await dispute_row(deps, unseen["id"])
    assert unseen_row.alert_key == f"dispute:{unseen['id']}"
    assert unseen_row.customer_name == "Jenny Rosen"  # from the expanded charge
    # A dispute that was already over when we first saw it is stored quietly.
    assert (await dispute_row(deps, old_closed["id"])).status == "won"
    assert _card_posts(fake_slack, old_closed["id"]) == []


@pytest.mark.parametrize(
    "closed_first", [True, False], ids=["closed-first", "closed-last"]
)
async def test_two_events_in_one_second_keep_the_dispute_closed(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    deps: Deps,
    closed_first: bool,
) -> None:
    # Stripe stamps events to the second: an `updated` and the `closed` that
    # followed it can share one, and their IDs are random. The later state of
    # the dispute (closed, after review) wins whatever the IDs say.
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    t = int(time.time()) + 5
    reviewing = copy.deepcopy(dispute)
    reviewing["status"] = "under_review"
    reviewing["evidence_details"]["submission_count"] = 1
    lost = copy.deepcopy(reviewing)
    lost["status"] = "lost"
    # IDs chosen so that the older state's is the greater, as chance may have it.
    updated = event("charge.dispute.updated", reviewing, id="evt_zzzz", created=t)
    closed = event("charge.dispute.closed", lost, id="evt_0000", created=t)

    for evt in (closed, updated) if closed_first else (updated, closed):
        await deliver(client, evt)
    await events_processed(deps, 3)

    row = await dispute_row(deps, dispute["id"])
    assert (row.status, row.version_event) == ("lost", closed["id"])


async def test_reconcile_snapshot_loses_to_a_newer_event_only(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    await dispute_jobs.reconcile(deps)
    now = int(time.time())

    stale = copy.deepcopy(dispute)
    stale["status"] = "warning_closed"
    await deliver(
        client,
        dispute_event(fake_stripe, "charge.dispute.updated", stale, created=now - 60),
    )
    newer = copy.deepcopy(dispute)
    newer["status"] = "under_review"
    newer_event = dispute_event(
        fake_stripe, "charge.dispute.updated", newer, created=now + 60
    )
    await deliver(client, newer_event)

    async def took_newer() -> bool:
        return (await dispute_row(deps, dispute["id"])).status == "under_review"

    await eventually(took_newer, what="the event newer than the snapshot to win")
    assert (await dispute_row(deps, dispute["id"])).version_event == newer_event["id"]


async def test_reconcile_pages_through_every_dispute(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    from bot import disputes

    seeded = [seed_dispute(fake_stripe) for _ in range(5)]
    assert await disputes.reconcile(deps, page_size=2) == 5
    pages = fake_stripe.requests_to("GET", "/v1/disputes")
    assert len(pages) == 3
    assert "starting_after" in pages[1].params
    for dispute in seeded:
        assert (await dispute_row(deps, dispute["id"])).status == "needs_response"


def test_jobs_are_registered_with_their_intervals(deps: Deps) -> None:
    scheduler = AsyncIOScheduler(timezone="UTC")
    dispute_jobs.register(scheduler, deps)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    reminders = jobs["dispute-reminders"].trigger.interval.total_seconds()
    assert reminders == deps.settings.NAG_INTERVAL_SECONDS
    assert jobs["dispute-reconcile"].trigger.interval.total_seconds() == 15 * 60
    assert "dispute-customers" in jobs
    assert jobs["dispute-reminders"].func is dispute_jobs.send_reminders


# -- commands -----------------------------------------------------------------


@pytest.mark.parametrize("by", ["dispute", "charge", "payment_intent"])
async def test_stripe_dispute_shows_the_dispute_with_its_buttons(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    deps: Deps,
    by: str,
) -> None:
    dispute = seed_dispute(fake_stripe, reason="duplicate")
    fake_stripe.object(dispute["id"])["evidence"]["duplicate_charge_id"] = "ch_Other1"
    query = {
        "dispute": dispute["id"],
        "charge": dispute["charge"],
        "payment_intent": dispute["payment_intent"],
    }[by]
    answer = await command(client, fake_slack, f"dispute {query}")
    said = text_of(answer)
    assert answer.get("response_type") == "ephemeral"
    assert dispute["id"] in said
    assert "duplicate" in said
    assert "Evidence on Stripe so far" in said
    assert "ch_Other1" in said
    assert "<!date^" in said
    assert blocks.ACTION_SUBMIT in action_ids(answer)
    # Never seen before: it is stored now, and its alert goes to the channel.
    assert (await dispute_row(deps, dispute["id"])).reason == "duplicate"
    await posted_card(fake_slack, dispute["id"])


async def test_stripe_dispute_for_an_unknown_id_says_so(
    client: Client, fake_slack: FakeSlack
) -> None:
    answer = await command(client, fake_slack, "dispute dp_doesnotexist")
    assert "Stripe has no dispute `dp_doesnotexist`" in text_of(answer)
    answer = await command(client, fake_slack, "dispute re_123")
    assert "Give a dispute, charge or PaymentIntent ID" in answer["text"]


async def test_stripe_disputes_lists_open_ones_soonest_deadline_first(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    later = seed_dispute(fake_stripe, due_in=9 * DAY)
    soon = seed_dispute(fake_stripe, due_in=2 * DAY)
    middle = seed_dispute(fake_stripe, due_in=5 * DAY)
    closed = seed_dispute(fake_stripe, status="lost")
    await dispute_jobs.reconcile(deps)

    answer = await command(client, fake_slack, "disputes")
    said = text_of(answer)
    positions = [said.index(d["id"]) for d in (soon, middle, later)]
    assert positions == sorted(positions)
    assert closed["id"] not in said
    assert "(3)" in said


# -- Take ---------------------------------------------------------------------


async def test_take_shows_the_owner_on_the_alert_and_in_the_thread(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, alert = await open_dispute(client, fake_stripe, fake_slack)
    await press(client, fake_slack, blocks.ACTION_TAKE, dispute["id"], ts=alert["ts"])
    edited = await card_saying(fake_slack, alert, "<@U_AGENT>")
    assert "Take over" in text_of(edited)
    await thread_reply(fake_slack, alert, "<@U_AGENT> took this dispute")

    await press(
        client, fake_slack, blocks.ACTION_TAKE, dispute["id"], user_id="U_OTHER"
    )
    await thread_reply(fake_slack, alert, "took this dispute over from <@U_AGENT>")
    assert (await dispute_row(deps, dispute["id"])).taken_by == "U_OTHER"
    assert ("U_OTHER", "dispute.taken") in await audit_of(deps, dispute["id"])


async def test_take_from_the_command_answer_refreshes_that_answer(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    dispute = seed_dispute(fake_stripe)
    await command(client, fake_slack, f"dispute {dispute['id']}")
    url = await press(
        client, fake_slack, blocks.ACTION_TAKE, dispute["id"], ephemeral=True
    )
    (answer,) = await fake_slack.wait_for_response(url)
    assert answer["replace_original"] is True
    assert "<@U_AGENT>" in text_of(answer)


# -- Accept -------------------------------------------------------------------


async def test_accept_is_for_managers_only_at_click_and_at_submit(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    await press(client, fake_slack, blocks.ACTION_ACCEPT, dispute["id"])
    refusal = await opened_view(fake_slack)
    assert "Only managers can accept" in json.dumps(refusal)
    assert "<@U_MANAGER>" in json.dumps(refusal)
    assert refusal.get("callback_id") != blocks.VIEW_ACCEPT

    # A forged submission of the confirmation is refused on the server too.
    answer = await submit_view(client, blocks.VIEW_ACCEPT, dispute["id"])
    assert answer["response_action"] == "update"
    assert "Only managers can accept" in json.dumps(answer["view"])
    await bolt_idle()
    assert fake_stripe.requests_to("POST", f"/v1/disputes/{dispute['id']}/close") == []
    assert (await dispute_row(deps, dispute["id"])).accepted_by is None


async def test_a_manager_accepts_once_with_an_idempotency_key(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, alert = await open_dispute(client, fake_stripe, fake_slack)
    await press(
        client, fake_slack, blocks.ACTION_ACCEPT, dispute["id"], user_id="U_MANAGER"
    )
    confirm = await opened_view(fake_slack)
    assert confirm["callback_id"] == blocks.VIEW_ACCEPT
    assert "cannot be undone" in json.dumps(confirm)
    assert "25.00 USD" in json.dumps(confirm)

    answers = await asyncio.gather(
        submit_view(
            client, blocks.VIEW_ACCEPT, dispute["id"], user_id="U_MANAGER", view_id="V1"
        ),
        submit_view(
            client,
            blocks.VIEW_ACCEPT,
            dispute["id"],
            user_id="U_MANAGER2",
            view_id="V2",
        ),
    )
    assert all(a["response_action"] == "update" for a in answers)
    await card_saying(fake_slack, alert, "Dispute accepted (lost)")
    closes = fake_stripe.requests_to("POST", f"/v1/disputes/{dispute['id']}/close")
    assert len(closes) == 1
    assert closes[0].idempotency_key == f"dispute-close:{dispute['id']}"
    row = await dispute_row(deps, dispute["id"])
    assert row.status == "lost"
    assert row.accepted_by in ("U_MANAGER", "U_MANAGER2")
    await thread_reply(fake_slack, alert, "accepted this dispute")
    assert (row.accepted_by, "dispute.accepted") in await audit_of(deps, dispute["id"])
    assert fake_stripe.object(dispute["id"])["status"] == "lost"


async def test_outbox_keeps_one_alert_per_dispute_event(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute = seed_dispute(fake_stripe)
    created = dispute_event(fake_stripe, "charge.dispute.created", dispute)
    await deliver(client, created)
    await deliver(client, created)
    await posted_card(fake_slack, dispute["id"])
    async with deps.sessions() as session:
        keys = (
            (
                await session.execute(
                    select(col(OutboxMessage.key)).where(
                        col(OutboxMessage.kind) == "post",
                        col(OutboxMessage.key).like("alert:%"),
                    )
                )
            )
            .scalars()
            .all()
        )
    assert keys == [f"alert:{created['id']}"]
