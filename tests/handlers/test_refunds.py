"""Refund requests end to end: signed Slack requests in, fake Stripe and Slack out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import update

from bot.blocks import OPEN_IN_STRIPE_ACTION
from bot.blocks.refunds import (
    APPROVE_ACTION,
    DENY_ACTION,
    DENY_CALLBACK,
    DENY_REASON_INPUT,
)
from bot.deps import Deps
from handlers.jobs.refunds import expire_pending, remind_pending, retry_approved
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from storage.models import RefundRequest
from tests.conftest import ManualClock
from tests.handlers.helpers import (
    APPROVALS,
    Client,
    approval_message,
    audit_actions,
    click,
    command,
    eventually,
    message_saying,
    only_request,
    request_row,
    requests,
    status_becomes,
    submit,
    text_of,
)
from tests.support import STRIPE_KEY, event, signed

Json = dict[str, Any]


def paid(
    fake_stripe: FakeStripe,
    amount: int = 2000,
    currency: str = "usd",
    *,
    name: str = "Jenny Rosen",
) -> tuple[Json, Json]:
    customer = fake_stripe.add_customer(email="jenny@example.com", name=name)
    fake_stripe.add_payment_method(customer["id"], default=True)
    return fake_stripe.add_payment(
        customer_id=customer["id"], amount=amount, currency=currency
    )


async def request(
    client: Client,
    fake_slack: FakeSlack,
    deps: Deps,
    text: str,
    *,
    user_id: str = "U_AGENT",
) -> tuple[int, Json]:
    """Ask for a refund; returns the request's id and its approval message."""
    answer = await command(client, fake_slack, f"refund {text}", user_id=user_id)
    assert "waiting for a manager" in answer["text"], answer["text"]
    request_id = (await requests(deps))[-1].id
    assert request_id is not None
    return request_id, await approval_message(fake_slack, request_id)


async def approve(
    client: Client, fake_slack: FakeSlack, request_id: int, user_id: str = "U_MANAGER"
) -> str:
    return await click(
        client,
        fake_slack,
        action_id=APPROVE_ACTION,
        value=str(request_id),
        user_id=user_id,
    )


def refunds_counted(deps: Deps, outcome: str) -> float | None:
    """What /metrics reports for refund_requests_total{outcome=…}."""
    return deps.metrics.registry.get_sample_value(
        "refund_requests_total", {"outcome": outcome}
    )


async def answer_to(fake_slack: FakeSlack, url: str) -> str:
    (answer, *_) = await fake_slack.wait_for_response(url)
    return str(answer["text"])


# -- asking -----------------------------------------------------------------------


async def test_a_request_goes_to_the_approvals_channel_and_refunds_nothing(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, charge = paid(fake_stripe, name="<!channel> & Co")
    answer = await command(
        client, fake_slack, f"refund {pi['id']} 12.50 requested_by_customer"
    )
    assert "<#CAPPROVALS>" in answer["text"]
    assert "12.50 USD" in answer["text"]
    row = await only_request(deps)
    assert (row.status, row.amount, row.currency) == ("pending", 1250, "usd")
    assert row.charge_id == charge["id"]

    message = await approval_message(fake_slack, row.id or 0)
    shown = text_of(message)
    for expected in (
        "<@U_AGENT>",
        "12.50 USD",
        "20.00 USD",
        pi["id"],
        "Requested by the customer",
        "jenny@example.com",
        "&lt;!channel&gt; &amp; Co",
    ):
        assert expected in shown, expected
    assert "<!channel>" not in shown
    buttons = [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert [b["action_id"] for b in buttons] == [
        APPROVE_ACTION,
        DENY_ACTION,
        OPEN_IN_STRIPE_ACTION,
    ]
    assert fake_stripe.requests_to("POST", "/v1/refunds") == []
    assert await audit_actions(deps, row.id or 0) == [("U_AGENT", "refund.requested")]
    assert refunds_counted(deps, "requested") == 1


@pytest.mark.parametrize(
    ("currency", "amount", "typed", "minor", "shown"),
    [
        ("jpy", 5000, "500", 500, "500 JPY"),
        ("kwd", 5000, "1.250", 1250, "1.250 KWD"),
        ("usd", 2000, "12", 1200, "12.00 USD"),
    ],
)
async def test_amounts_are_read_in_the_payments_currency(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    currency: str,
    amount: int,
    typed: str,
    minor: int,
    shown: str,
) -> None:
    pi, _ = paid(fake_stripe, amount, currency)
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} {typed}")
    row = await request_row(deps, request_id)
    assert (row.amount, row.currency) == (minor, currency)
    assert shown in text_of(message)


async def test_without_an_amount_it_asks_for_what_is_left(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, charge = paid(fake_stripe, 2000)
    fake_stripe.object(charge["id"])["amount_refunded"] = 500
    request_id, message = await request(
        client, fake_slack, deps, f"{charge['id']} duplicate charged twice"
    )
    row = await request_row(deps, request_id)
    assert row.amount == 1500
    assert (row.reason, row.note) == ("duplicate", "charged twice")
    assert row.payment_id == charge["id"]
    assert "15.00 USD" in text_of(message)
    assert "charged twice" in text_of(message)


async def test_words_that_are_no_stripe_reason_are_kept_as_a_note(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, message = await request(
        client, fake_slack, deps, f"{pi['id']} 3 box arrived <b>crushed</b>"
    )
    row = await request_row(deps, request_id)
    assert (row.reason, row.note) == (None, "box arrived <b>crushed</b>")
    assert "&lt;b&gt;crushed&lt;/b&gt;" in text_of(message)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("pi_doesnotexist 5", "Stripe has no payment"),
        ("{failed} 5", "not succeeded"),
        ("{pi} 0", "more than zero"),
        ("{pi} -5", "more than zero"),
        ("{pi} 5.001", "at most 2 decimal places"),
        ("{jpy} 5.5", "whole number"),
        ("{pi} 20.01", "more than what is left"),
        ("{refunded} 1", "fully refunded already"),
        ("{disputed} 5", "disputed"),
        ("in_123 5", "is not a PaymentIntent"),
        ("", "Which payment?"),
    ],
)
async def test_refusals_come_before_any_request(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    args: str,
    expected: str,
) -> None:
    pi, _ = paid(fake_stripe)
    failed, _ = fake_stripe.add_payment(customer_id=None, amount=900, status="failed")
    jpy, _ = fake_stripe.add_payment(customer_id=None, amount=900, currency="jpy")
    refunded, refunded_charge = fake_stripe.add_payment(customer_id=None, amount=900)
    fake_stripe.object(refunded_charge["id"])["amount_refunded"] = 900
    disputed, disputed_charge = fake_stripe.add_payment(customer_id=None, amount=900)
    fake_stripe.add_dispute(disputed_charge["id"])
    text = args.format(
        pi=pi["id"],
        failed=failed["id"],
        jpy=jpy["id"],
        refunded=refunded["id"],
        disputed=disputed["id"],
    )
    answer = await command(client, fake_slack, f"refund {text}")
    assert expected in answer["text"]
    if not text or text.startswith("in_"):
        assert "/stripe refund &lt;pi_… | ch_…&gt; [amount]" in answer["text"]
    assert await requests(deps) == []
    assert fake_stripe.requests_to("POST", "/v1/refunds") == []


async def test_an_inquiry_does_not_stop_a_refund(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, charge = paid(fake_stripe)
    fake_stripe.add_dispute(charge["id"], status="warning_needs_response")
    await request(client, fake_slack, deps, f"{pi['id']} 5")


async def test_requests_waiting_on_a_payment_count_against_what_is_left(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe, 2000)
    first, _ = await request(client, fake_slack, deps, f"{pi['id']} 15")
    answer = await command(client, fake_slack, f"refund {pi['id']} 10")
    assert f"#{first}" in answer["text"]
    assert len(await requests(deps)) == 1


@asynccontextmanager
async def request_inserts_held(db_url: str, *, waiting: int) -> AsyncIterator[None]:
    """On PostgreSQL: hold new request rows back (other statements go on) until
    `waiting` transactions wait on a lock, so that they overlap for certain.
    SQLite's one writer lets no two overlap; nothing to hold there."""
    if not db_url.startswith("postgresql"):
        yield
        return
    holder, watcher = await asyncpg.connect(db_url), await asyncpg.connect(db_url)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("LOCK TABLE refund_request IN EXCLUSIVE MODE")
        yield

        async def blocked() -> bool:
            # Outside any transaction: pg_stat_activity is a snapshot per one.
            count = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                "current_database() AND wait_event_type = 'Lock'"
            )
            return int(count) >= waiting

        await eventually(blocked, what=f"{waiting} transactions to wait")
        await tx.rollback()
    finally:
        await holder.close()
        await watcher.close()


async def test_two_requests_at_once_cannot_together_exceed_what_is_left(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    db_url: str,
) -> None:
    pi, _ = paid(fake_stripe, 2000)
    async with request_inserts_held(db_url, waiting=2):
        answers = asyncio.gather(
            command(client, fake_slack, f"refund {pi['id']} 15"),
            command(client, fake_slack, f"refund {pi['id']} 10", user_id="U_AGENT2"),
        )
    texts = [a["text"] for a in await answers]
    (waiting,) = await requests(deps)
    assert waiting.status == "pending"
    (refused,) = [t for t in texts if "waiting for a manager" not in t]
    assert f"#{waiting.id}" in refused
    assert "already waiting" in refused


# -- approving ----------------------------------------------------------------------


async def test_a_manager_approves_and_stripe_refunds_once(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, charge = paid(fake_stripe)
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 12.50")
    await approve(client, fake_slack, request_id)
    row = await status_becomes(deps, request_id, "succeeded")

    (post,) = fake_stripe.requests_to("POST", "/v1/refunds")
    assert post.idempotency_key == row.idempotency_key
    assert post.params["amount"] == "1250"
    assert post.params["charge"] == charge["id"]
    assert post.params["metadata"]["stripe_ops_request"] == str(request_id)
    (refund,) = fake_stripe.refunds
    assert row.refund_id == refund["id"]

    updated = await message_saying(fake_slack, APPROVALS, refund["id"])
    assert updated["ts"] == message["ts"]
    assert "<@U_MANAGER>" in text_of(updated)
    assert "succeeded" in text_of(updated)
    # Decided: only the link to the payment is left, no button that acts.
    assert [
        e["action_id"]
        for b in updated["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ] == [OPEN_IN_STRIPE_ACTION]
    dm = await message_saying(fake_slack, "U_AGENT", refund["id"])
    assert "approved by <@U_MANAGER>" in dm["text"]
    assert await audit_actions(deps, request_id) == [
        ("U_AGENT", "refund.requested"),
        ("U_MANAGER", "refund.approved"),
        ("stripe", "refund.succeeded"),
    ]
    for outcome in ("approved", "succeeded"):
        assert refunds_counted(deps, outcome) == 1


async def test_twenty_racing_approvals_make_exactly_one_refund(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_stripe.latency = 0.05
    urls = await asyncio.gather(
        *(
            approve(client, fake_slack, request_id, f"U_MANAGER{'2' if i % 2 else ''}")
            for i in range(20)
        )
    )
    await status_becomes(deps, request_id, "succeeded")

    def answered() -> list[str]:
        return [
            str(fake_slack.responses[u][0]["text"])
            for u in urls
            if u in fake_slack.responses
        ]

    losers = await eventually(lambda: len(answered()) == 19 and answered())
    assert all("already approved" in text for text in losers)
    assert len(fake_stripe.refunds) == 1
    assert len(fake_stripe.requests_to("POST", "/v1/refunds")) == 1
    actions = [a for _, a in await audit_actions(deps, request_id)]
    assert actions.count("refund.approved") == 1


async def test_a_non_manager_cannot_approve_nor_deny(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    url = await approve(client, fake_slack, request_id, "U_AGENT2")
    assert "Only managers" in await answer_to(fake_slack, url)
    url = await click(
        client,
        fake_slack,
        action_id=DENY_ACTION,
        value=str(request_id),
        user_id="U_AGENT2",
    )
    assert "Only managers can deny" in await answer_to(fake_slack, url)
    assert fake_slack.calls_to("views.open") == []
    assert (await request_row(deps, request_id)).status == "pending"
    assert fake_stripe.requests_to("POST", "/v1/refunds") == []
    actions = await audit_actions(deps, request_id)
    assert ("U_AGENT2", "refund.approve_refused") in actions
    assert ("U_AGENT2", "refund.deny_refused") in actions


async def test_the_requester_cannot_approve_their_own_request(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(
        client, fake_slack, deps, f"{pi['id']} 5", user_id="U_MANAGER"
    )
    url = await approve(client, fake_slack, request_id, "U_MANAGER")
    assert "another manager" in await answer_to(fake_slack, url)
    assert (await request_row(deps, request_id)).status == "pending"
    assert ("U_MANAGER", "refund.approve_refused") in await audit_actions(
        deps, request_id
    )
    await approve(client, fake_slack, request_id, "U_MANAGER2")
    await status_becomes(deps, request_id, "succeeded")
    assert len(fake_stripe.refunds) == 1


@pytest.mark.parametrize(
    "settings_overrides", [{"MANAGER_USER_IDS": "", "MANAGER_USERGROUP": "S_MGRS"}]
)
async def test_members_of_the_manager_user_group_may_approve(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    fake_slack.usergroups["S_MGRS"] = ["U_BOSS"]
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    url = await approve(client, fake_slack, request_id, "U_MANAGER")
    assert "Only managers" in await answer_to(fake_slack, url)
    await approve(client, fake_slack, request_id, "U_BOSS")
    await status_becomes(deps, request_id, "succeeded")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "settings_overrides", [{"MANAGER_USER_IDS": "", "MANAGER_USERGROUP": "S_MGRS"}]
)
async def test_webhooks_are_stored_while_slack_says_who_manages(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    fake_slack.usergroups["S_MGRS"] = ["U_BOSS"]
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    members = fake_slack.hold("usergroups.users.list")
    await approve(client, fake_slack, request_id, "U_BOSS")
    await eventually(lambda: members.arrived, what="the manager check at Slack")

    body, headers = signed(event("payout.paid"))
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 200, await resp.text()
    assert members.caller_waiting == 1, "the webhook's 200 waited for Slack"

    members.release()
    await status_becomes(deps, request_id, "succeeded")


async def test_approval_rechecks_what_is_left_on_the_payment(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, charge = paid(fake_stripe, 2000)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 15")
    # Someone refunds 10.00 in the Dashboard while the request waits.
    fake_stripe.object(charge["id"])["amount_refunded"] = 1000
    await approve(client, fake_slack, request_id)
    row = await status_becomes(deps, request_id, "failed")
    assert "Only 10.00 USD is left" in (row.failure_message or "")
    await message_saying(fake_slack, APPROVALS, "Only 10.00 USD is left")
    await message_saying(fake_slack, "U_AGENT", "nothing was refunded")
    assert fake_stripe.requests_to("POST", "/v1/refunds") == []


def told_nothing_was_refunded(fake_slack: FakeSlack) -> list[str]:
    """DMs to the requester that say no money went back."""
    return [
        text_of(m)
        for m in fake_slack.messages.get("U_AGENT", [])
        if "nothing was refunded" in text_of(m)
    ]


async def test_the_retry_job_cannot_take_a_request_its_approval_is_refunding(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, charge = paid(fake_stripe, 2000)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 20")
    # The approval's look at the payment waits at Stripe; so does the answer to
    # any refund POST, so that both callers are in flight at once.
    recheck = fake_stripe.hold("GET", f"/v1/charges/{charge['id']}")
    answer = fake_stripe.hold("POST", "/v1/refunds", after_execute=True)
    await approve(client, fake_slack, request_id)
    await eventually(lambda: recheck.arrived, what="the approval's re-check")
    # Meanwhile the retry job runs (here, or on another instance).
    job = asyncio.create_task(retry_approved(deps))
    await eventually(
        lambda: job.done() or fake_stripe.refunds, what="the job to pass or refund"
    )
    posted = answer.arrived
    recheck.release()

    async def decided() -> RefundRequest | None:
        row = await request_row(deps, request_id)
        return row if row.status != "approved" else None

    # The approval goes on: it decides the request, or its own POST goes out.
    await eventually(
        lambda: answer.arrived > posted or decided(), what="the approval to go on"
    )
    answer.release()
    await job
    row = await eventually(decided, what="the request to be finished")
    (refund,) = fake_stripe.refunds
    assert (row.status, row.refund_id) == ("succeeded", refund["id"])
    assert len(fake_stripe.requests_to("POST", "/v1/refunds")) == 1
    await message_saying(fake_slack, "U_AGENT", refund["id"])
    assert told_nothing_was_refunded(fake_slack) == []


async def test_stripes_refusal_is_shown_on_the_request(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_stripe.fail_next(
        "POST",
        "/v1/refunds",
        status=400,
        error={
            "type": "invalid_request_error",
            "code": "balance_insufficient",
            "message": "You have insufficient funds in your Stripe account.",
        },
    )
    await approve(client, fake_slack, request_id)
    row = await status_becomes(deps, request_id, "failed")
    assert "insufficient funds" in (row.failure_message or "")
    updated = await message_saying(fake_slack, APPROVALS, "insufficient funds")
    assert updated["ts"] == message["ts"]
    await message_saying(fake_slack, "U_AGENT", "insufficient funds")
    assert ("stripe", "refund.failed") in await audit_actions(deps, request_id)
    assert fake_stripe.refunds == []
    assert refunds_counted(deps, "failed") == 1


async def test_a_restricted_key_without_refund_write_is_named(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_stripe.api_keys[STRIPE_KEY] = frozenset(
        {
            "rak_charge_read",
            "rak_payment_intent_read",
            "rak_customer_read",
            "rak_dispute_read",
            "rak_refund_read",
        }
    )
    await approve(client, fake_slack, request_id)
    row = await status_becomes(deps, request_id, "failed")
    assert "Refunds: Write" in (row.failure_message or "")
    assert "sk_test" not in (row.failure_message or "")
    await message_saying(fake_slack, APPROVALS, "rak_refund_write")


@pytest.mark.parametrize("clock", [ManualClock()])
async def test_an_unanswered_stripe_call_is_retried_with_the_same_key(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    clock: ManualClock,
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    # Stripe refunds, but the answer is lost on the way back.
    fake_stripe.fail_next(
        "POST", "/v1/refunds", status=500, after_execute=True, should_retry=False
    )
    await approve(client, fake_slack, request_id)
    await message_saying(fake_slack, APPROVALS, "Stripe did not answer")
    row = await request_row(deps, request_id)
    assert row.status == "approved"
    assert len(fake_stripe.refunds) == 1

    await retry_approved(deps)  # too early: the row waits out its backoff
    assert len(fake_stripe.requests_to("POST", "/v1/refunds")) == 1
    clock.advance(3600)
    await retry_approved(deps)
    row = await request_row(deps, request_id)
    assert row.status == "succeeded"
    assert row.refund_id == fake_stripe.refunds[0]["id"]
    # The retry found the refund by the request in its metadata: no second POST.
    (post,) = fake_stripe.requests_to("POST", "/v1/refunds")
    assert post.idempotency_key == row.idempotency_key
    assert fake_stripe.requests_to("GET", "/v1/refunds")
    assert len(fake_stripe.refunds) == 1
    await message_saying(fake_slack, "U_AGENT", row.refund_id or "?")


IDEMPOTENCY_ERROR = {
    "type": "idempotency_error",
    "message": "Keys for idempotent requests can only be used with the same "
    "parameters they were first used with.",
}


async def test_an_idempotency_error_looks_the_refund_up_instead_of_failing(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, charge = paid(fake_stripe)
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5")
    await approve(client, fake_slack, request_id)
    await status_becomes(deps, request_id, "succeeded")
    (refund,) = fake_stripe.refunds
    # The database is restored from a backup taken before the approval, and
    # another manager approves: the same key, with other parameters.
    async with deps.sessions() as session, session.begin():
        await session.execute(
            update(RefundRequest)
            .where(RefundRequest.id == request_id)  # type: ignore[arg-type]
            .values(
                status="pending",
                decided_by=None,
                decided_at=None,
                refund_id=None,
                refund_status=None,
                stripe_attempts=0,
                first_attempt_at=None,
                next_attempt_at=None,
            )
        )
    await approve(client, fake_slack, request_id, "U_MANAGER2")
    # The click is acked first; its POST follows in the lazy listener.
    await eventually(
        lambda: len(fake_stripe.requests_to("POST", "/v1/refunds")) == 2,
        what="the second approval's POST",
    )
    (_, again) = fake_stripe.requests_to("POST", "/v1/refunds")
    assert again.params["metadata"]["approved_by"] == "U_MANAGER2"
    row = await status_becomes(deps, request_id, "succeeded")
    assert row.refund_id == refund["id"]
    assert len(fake_stripe.refunds) == 1
    (listed, *_) = fake_stripe.requests_to("GET", "/v1/refunds")
    assert listed.params["charge"] == charge["id"]
    assert told_nothing_was_refunded(fake_slack) == []
    assert ("stripe", "refund.failed") not in await audit_actions(deps, request_id)


@pytest.mark.parametrize("clock", [ManualClock()])
async def test_an_idempotency_error_with_no_refund_found_keeps_trying(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    clock: ManualClock,
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_stripe.fail_next("POST", "/v1/refunds", status=400, error=IDEMPOTENCY_ERROR)
    await approve(client, fake_slack, request_id)
    await message_saying(fake_slack, APPROVALS, "keeps trying")
    row = await request_row(deps, request_id)
    assert row.status == "approved"
    assert fake_stripe.refunds == []
    clock.advance(3600)
    await retry_approved(deps)
    row = await request_row(deps, request_id)
    (refund,) = fake_stripe.refunds
    assert (row.status, row.refund_id) == ("succeeded", refund["id"])
    assert told_nothing_was_refunded(fake_slack) == []


@pytest.mark.parametrize("clock", [ManualClock()])
async def test_a_refusal_after_an_earlier_attempt_fails_only_if_no_refund_is_found(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    clock: ManualClock,
) -> None:
    pi, charge = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_stripe.fail_next("POST", "/v1/refunds", status=500, should_retry=False)
    await approve(client, fake_slack, request_id)
    await message_saying(fake_slack, APPROVALS, "Stripe did not answer")
    fake_stripe.add_dispute(charge["id"])  # Stripe now refuses: charged back
    clock.advance(3600)
    await retry_approved(deps)
    row = await request_row(deps, request_id)
    assert row.status == "failed"
    assert "charged back" in (row.failure_message or "")
    # It looked for a refund of ours before saying nothing was refunded.
    assert fake_stripe.requests_to("GET", "/v1/refunds")
    await message_saying(fake_slack, "U_AGENT", "nothing was refunded")


# -- denying ------------------------------------------------------------------------


async def test_a_manager_denies_with_a_reason(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5")
    url = await click(
        client,
        fake_slack,
        action_id=DENY_ACTION,
        value=str(request_id),
        user_id="U_MANAGER",
        trigger_id="T.deny",
    )
    (opened,) = await fake_slack.wait_for_calls("views.open", 1)
    assert opened.args["trigger_id"] == "T.deny"
    view = opened.args["view"]
    assert view["callback_id"] == DENY_CALLBACK

    empty = await submit(
        client,
        callback_id=DENY_CALLBACK,
        user_id="U_MANAGER",
        values={DENY_REASON_INPUT: "  "},
        private_metadata=view["private_metadata"],
    )
    assert (await empty.json())["response_action"] == "errors"
    assert (await request_row(deps, request_id)).status == "pending"

    await submit(
        client,
        callback_id=DENY_CALLBACK,
        user_id="U_MANAGER",
        values={DENY_REASON_INPUT: "Outside the 30-day window <sorry>"},
        private_metadata=view["private_metadata"],
    )
    row = await status_becomes(deps, request_id, "denied")
    assert row.deny_reason == "Outside the 30-day window <sorry>"
    updated = await message_saying(fake_slack, APPROVALS, "Denied by <@U_MANAGER>")
    assert updated["ts"] == message["ts"]
    assert "Outside the 30-day window &lt;sorry&gt;" in text_of(updated)
    await message_saying(fake_slack, "U_AGENT", "30-day window")
    assert ("U_MANAGER", "refund.denied") in await audit_actions(deps, request_id)
    assert fake_stripe.requests_to("POST", "/v1/refunds") == []

    url = await approve(client, fake_slack, request_id, "U_MANAGER2")
    assert "already denied" in await answer_to(fake_slack, url)
    assert url


# -- time passing ---------------------------------------------------------------------


@pytest.mark.parametrize("clock", [ManualClock()])
async def test_a_waiting_request_is_reminded_once_then_expires(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    clock: ManualClock,
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5")
    await remind_pending(deps)
    clock.advance(6 * 3600 + 1)  # a quarter of the 24 h
    await remind_pending(deps)
    await remind_pending(deps)
    reminder = await message_saying(
        fake_slack, APPROVALS, "still waiting", thread_ts=message["ts"]
    )
    assert f"#{request_id}" in reminder["text"]

    await expire_pending(deps)
    assert (await request_row(deps, request_id)).status == "pending"
    clock.advance(18 * 3600)
    await expire_pending(deps)
    await expire_pending(deps)
    row = await request_row(deps, request_id)
    assert row.status == "expired"
    updated = await message_saying(fake_slack, APPROVALS, "Expired")
    assert updated["ts"] == message["ts"]
    await message_saying(fake_slack, "U_AGENT", "expired with no decision")
    url = await approve(client, fake_slack, request_id)
    assert "expired" in await answer_to(fake_slack, url)
    assert fake_stripe.requests_to("POST", "/v1/refunds") == []
    actions = await audit_actions(deps, request_id)
    assert actions.count(("system", "refund.expired")) == 1
    reminders = [
        m
        for m in fake_slack.messages[APPROVALS]
        if m.get("thread_ts") == message["ts"] and "still waiting" in m["text"]
    ]
    assert len(reminders) == 1
    assert refunds_counted(deps, "expired") == 1


@pytest.mark.parametrize("clock", [ManualClock()])
async def test_approving_after_the_deadline_is_refused(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    clock: ManualClock,
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    clock.advance(24 * 3600 + 1)  # expired, though the job has not run yet
    url = await approve(client, fake_slack, request_id)
    assert "expired" in await answer_to(fake_slack, url)
    assert (await request_row(deps, request_id)).status == "pending"
    assert fake_stripe.requests_to("POST", "/v1/refunds") == []


# -- Stripe events --------------------------------------------------------------------


async def post_event(client: Client, evt: Json) -> None:
    body, headers = signed(evt)
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 200


async def test_refund_updates_reply_in_the_requests_thread(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    fake_stripe.refund_status = "pending"
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5")
    await approve(client, fake_slack, request_id)
    row = await status_becomes(deps, request_id, "succeeded")
    assert row.refund_status == "pending"
    await message_saying(fake_slack, APPROVALS, "pending")

    refund = dict(fake_stripe.object(row.refund_id or ""))
    later = refund["created"] + 60
    refund["status"] = "succeeded"
    refund["destination_details"] = {
        "type": "card",
        "card": {"reference": "ARN-1234567", "reference_status": "available"},
    }
    newer = event("refund.updated", refund, created=later)
    await post_event(client, newer)
    reply = await message_saying(
        fake_slack, APPROVALS, "now *succeeded*", thread_ts=message["ts"]
    )
    assert "ARN-1234567" in reply["text"]
    updated = await message_saying(fake_slack, APPROVALS, "ARN-1234567")
    assert updated["ts"] == message["ts"]
    # The generic alert still goes to the refunds channel.
    await message_saying(fake_slack, "CREFUNDS", newer["id"])

    stale = dict(refund, status="pending")
    old = event("charge.refund.updated", stale, created=later - 30)
    await post_event(client, old)
    await message_saying(fake_slack, "CREFUNDS", old["id"])
    row = await request_row(deps, request_id)
    assert (row.refund_status, row.refund_reference) == ("succeeded", "ARN-1234567")
    replies = [
        m for m in fake_slack.messages[APPROVALS] if m.get("thread_ts") == message["ts"]
    ]
    assert len(replies) == 1


async def test_a_refund_that_fails_later_fails_the_request(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    fake_stripe.refund_status = "pending"
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5")
    await approve(client, fake_slack, request_id)
    row = await status_becomes(deps, request_id, "succeeded")
    refund = dict(fake_stripe.object(row.refund_id or ""))
    refund.update(status="failed", failure_reason="expired_or_canceled_card")
    await post_event(
        client, event("refund.failed", refund, created=refund["created"] + 5)
    )
    row = await status_becomes(deps, request_id, "failed")
    reply = await message_saying(
        fake_slack, APPROVALS, "failed", thread_ts=message["ts"]
    )
    assert "expired or was canceled" in reply["text"]
    await message_saying(fake_slack, "U_AGENT", "expired or was canceled")
    assert ("stripe", "refund.failed") in await audit_actions(deps, request_id)


async def test_events_for_refunds_made_elsewhere_only_alert(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    evt = event("refund.updated")
    await post_event(client, evt)
    await message_saying(fake_slack, "CREFUNDS", evt["id"])
    assert APPROVALS not in fake_slack.messages
    assert json.dumps(evt)  # the event is otherwise unremarkable


@pytest.mark.parametrize("clock", [ManualClock()])
async def test_a_retry_after_stripes_key_window_finds_the_refund_by_metadata(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    clock: ManualClock,
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, _ = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_stripe.fail_next(
        "POST", "/v1/refunds", status=500, after_execute=True, should_retry=False
    )
    await approve(client, fake_slack, request_id)
    await message_saying(fake_slack, APPROVALS, "Stripe did not answer")
    # The bot was down for two days: Stripe may have forgotten the key.
    clock.advance(48 * 3600)
    await retry_approved(deps)
    row = await request_row(deps, request_id)
    assert row.status == "succeeded"
    (refund,) = fake_stripe.refunds
    assert row.refund_id == refund["id"]
    assert len(fake_stripe.requests_to("POST", "/v1/refunds")) == 1


@pytest.mark.parametrize("event_type", ["refund.created", "refund.updated"])
async def test_an_event_finishes_a_request_whose_answer_was_lost(
    client: Client,
    fake_slack: FakeSlack,
    fake_stripe: FakeStripe,
    deps: Deps,
    event_type: str,
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_stripe.fail_next(
        "POST", "/v1/refunds", status=500, after_execute=True, should_retry=False
    )
    await approve(client, fake_slack, request_id)
    await message_saying(fake_slack, APPROVALS, "Stripe did not answer")
    (refund,) = fake_stripe.refunds
    # Stripe's event names the request in the refund's metadata.
    await post_event(client, event(event_type, dict(refund)))
    row = await status_becomes(deps, request_id, "succeeded")
    assert row.refund_id == refund["id"]
    updated = await message_saying(fake_slack, APPROVALS, refund["id"])
    assert updated["ts"] == message["ts"]
    await message_saying(fake_slack, "U_AGENT", refund["id"])
    assert len(fake_stripe.requests_to("POST", "/v1/refunds")) == 1


async def test_a_refund_event_repairs_a_request_recorded_as_failed(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, _ = paid(fake_stripe)
    request_id, message = await request(client, fake_slack, deps, f"{pi['id']} 5")
    fake_stripe.fail_next(
        "POST", "/v1/refunds", status=500, after_execute=True, should_retry=False
    )
    await approve(client, fake_slack, request_id)
    await message_saying(fake_slack, APPROVALS, "Stripe did not answer")
    # As an earlier version left such a request: failed on its own reasoning.
    async with deps.sessions() as session, session.begin():
        await session.execute(
            update(RefundRequest)
            .where(RefundRequest.id == request_id)  # type: ignore[arg-type]
            .values(status="failed", failure_message="Only 0.00 USD is left")
        )
    (refund,) = fake_stripe.refunds
    await post_event(client, event("refund.updated", dict(refund)))
    row = await status_becomes(deps, request_id, "succeeded")
    assert (row.refund_id, row.failure_message) == (refund["id"], None)
    updated = await message_saying(fake_slack, APPROVALS, refund["id"])
    assert updated["ts"] == message["ts"]
    await message_saying(fake_slack, "U_AGENT", refund["id"])
    assert ("stripe", "refund.succeeded") in await audit_actions(deps, request_id)


# -- `/stripe refunds` ---------------------------------------------------------------


async def test_refunds_lists_each_refund_with_its_arn(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    pi, charge = paid(fake_stripe, 5000, "jpy")
    refunds = deps.stripe.v1.refunds
    done = await refunds.create_async(
        {"charge": charge["id"], "amount": 1000, "reason": "duplicate"}
    )
    fake_stripe.refund_status = "pending"
    waiting = await refunds.create_async({"charge": charge["id"], "amount": 500})
    arn = done.destination_details.card.reference  # type: ignore[union-attr]

    answer = await command(client, fake_slack, f"refunds {pi['id']}")
    shown = text_of(answer)
    assert "2 refunds" in answer["text"]
    assert "5,000 JPY, 1,500 JPY refunded, 3,500 JPY left to refund" in shown
    assert "*1,000 JPY*" in shown
    assert "Duplicate payment" in shown
    assert (
        f"Give the customer this reference number (ARN) for their bank: `{arn}`"
        in shown
    )
    assert "*500 JPY*" in shown
    assert "The reference number (ARN) is not available yet" in shown

    answer = await command(client, fake_slack, f"refunds {waiting.id}")
    assert "1 refund on" in answer["text"]
    assert done.id not in text_of(answer)

    answer = await command(client, fake_slack, "refunds re_unknown")
    assert "Stripe has nothing with the ID `re_unknown`" in answer["text"]
    answer = await command(client, fake_slack, "refunds cus_123")
    assert "/stripe refunds &lt;pi_… | ch_… | re_…&gt;" in answer["text"]


async def test_a_payment_without_refunds_says_so(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    _, charge = paid(fake_stripe)
    answer = await command(client, fake_slack, f"refunds {charge['id']}")
    assert f"No refunds on `{charge['id']}`" in text_of(answer)
