"""Many events in one round of the event worker: work done once per round,
and nothing an event does lost because its neighbours share the transaction.
On both databases."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import select

import handlers
from bot.deps import Deps
from bot.event_router import EventRouter
from bot.workers import EventWorker, WorkerPolicy
from storage import events as event_store
from storage import outbox
from storage import refunds as refund_store
from storage.events import NewEvent
from storage.models import FraudWarning, OutboxMessage, RefundRequest
from tests.support import counting_statements, event, refund_request

NOW = 1_800_000_000.0


async def store(deps: Deps, *events: dict[str, Any]) -> None:
    async with deps.sessions() as session, session.begin():
        await event_store.store_events(
            session,
            events=[
                NewEvent(
                    id=e["id"],
                    type=e["type"],
                    livemode=False,
                    created=e["created"],
                    object_id=e["data"]["object"].get("id"),
                    payload=json.dumps(e),
                )
                for e in events
            ],
            now=NOW,
        )


async def one_round(deps: Deps) -> int:
    """Process what is stored in a single round; returns how many it took."""
    router = EventRouter()
    handlers.register_stripe_events(router)
    return await EventWorker(deps, router, WorkerPolicy()).process_round()


def by_table(statements: list[str]) -> Counter[str]:
    """Statements by their first word and the table they name, of two."""
    seen: Counter[str] = Counter()
    for statement in statements:
        words = [w.strip('"') for w in statement.split()]
        table = next((w for w in words if w in {"refund_request", "fraud_warning"}), "")
        seen[f"{words[0]} {table}".strip()] += 1
    return seen


def foreign_refund(n: int, charge: str) -> dict[str, Any]:
    """A refund made in the Dashboard: no request here, no key of ours."""
    return event(
        "refund.created",
        {
            "id": f"re_dashboard_{n}",
            "object": "refund",
            "amount": 100 + n,
            "charge": charge,
            "currency": "usd",
            "status": "succeeded",
            "metadata": {},
            "created": 1_700_000_000,
        },
        id=f"evt_dashboard_refund_{n}",
    )


async def test_a_round_of_refunds_reads_requests_once_and_still_finds_ours(
    deps: Deps,
) -> None:
    async with deps.sessions() as session, session.begin():
        req = await refund_store.create_request(
            session,
            new=refund_request(
                payment_id="pi_ours",
                charge_id="ch_ours",
                payment_intent_id="pi_ours",
                idempotency_key="stripe-ops-refund-ours",
            ),
            now=NOW,
            ttl_seconds=3600.0,
        )
        request_id = req.id
        # Its approval message, which the refund's state is shown on.
        assert req.message_key is not None
        await outbox.enqueue(
            session,
            key=req.message_key,
            channel="CAPPROVALS",
            text="Refund request",
            now=NOW,
        )
    ours = event(
        "refund.created",
        {
            "id": "re_ours",
            "object": "refund",
            "amount": 500,
            "charge": "ch_ours",
            "currency": "usd",
            "status": "pending",
            # Stripe made it before our commit: only the key names the request.
            "metadata": {"stripe_ops_request_key": "stripe-ops-refund-ours"},
            "created": 1_700_000_000,
        },
        id="evt_ours",
    )
    others = [foreign_refund(n, f"ch_other_{n}") for n in range(30)]
    await store(deps, *others[:15], ours, *others[15:])

    with counting_statements(deps.engine) as sent:
        assert await one_round(deps) == 31
    seen = by_table(sent)

    # One read for the round's 31 refunds, then ours alone (its locked read
    # and its reload after the update): not one read per refund.
    assert seen["SELECT refund_request"] == 3
    # The charges' fraud warnings looked at again in one statement, not 31.
    assert seen["UPDATE fraud_warning"] == 1
    async with deps.sessions() as session:
        row = await session.get(RefundRequest, request_id)
    assert row is not None
    assert row.refund_id == "re_ours"


async def test_a_warning_and_its_charges_dispute_in_one_round_edit_the_alert(
    deps: Deps,
) -> None:
    warning = event(
        "radar.early_fraud_warning.created",
        {
            "id": "issfr_one_round",
            "object": "radar.early_fraud_warning",
            "actionable": True,
            "charge": "ch_warned",
            "payment_intent": "pi_warned",
            "fraud_type": "made_with_stolen_card",
            "created": 1_700_000_000,
            "livemode": False,
        },
        id="evt_warning",
    )
    dispute = event(
        "charge.dispute.created",
        {
            "id": "dp_one_round",
            "object": "dispute",
            "amount": 2000,
            "charge": "ch_warned",
            "payment_intent": "pi_warned",
            "currency": "usd",
            "reason": "fraudulent",
            "status": "needs_response",
            "created": 1_700_000_000,
            "evidence_details": {"due_by": 1_800_600_000},
            "livemode": False,
        },
        id="evt_dispute",
    )
    await store(deps, warning, dispute)

    assert await one_round(deps) == 2

    async with deps.sessions() as session:
        row = await session.get(FraudWarning, "issfr_one_round")
        edits = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.target_key == "alert:evt_warning"  # type: ignore[arg-type]
                )
            )
        ).all()
    assert row is not None
    assert (row.state, row.closed_why) == ("closed", "disputed")
    # The alert queued earlier in the same round is edited to say why it
    # offers no refund, as it is when the dispute comes in a later round.
    assert len(edits) == 1
    assert "disputed" in json.dumps(edits[0].blocks)
