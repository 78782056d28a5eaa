"""Reconcile holds one dispute's row at a time, so it cannot deadlock with the
event worker (which locks the same rows in event order).

It used to apply a whole page of disputes in one transaction: under load on
PostgreSQL, a `charge.dispute.created` burst processed while reconcile ran
deadlocked (`test_an_event_and_a_reconcile_at_the_same_time_post_one_card`
failed that way in CI). SQLite lets one writer in at a time, so there is no
deadlock to have there.
"""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from sqlalchemy import text

from bot import disputes
from bot.deps import Deps
from simulators.stripe import FakeStripe
from tests.handlers.helpers import eventually
from tests.handlers.test_disputes import seed_dispute


async def _waiting_on_a_lock(deps: Deps) -> bool:
    async with deps.sessions() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def test_reconcile_does_not_hold_one_dispute_while_waiting_for_another(
    deps: Deps, fake_stripe: FakeStripe, db_url: str
) -> None:
    if db_url.startswith("sqlite"):
        await deps.aclose()
        pytest.skip("SQLite lets one writer in at a time: no lock order to get wrong")
    try:
        await _reconcile_beside_a_held_row(deps, fake_stripe)
    finally:
        await deps.aclose()  # no app here to close the clients


async def _reconcile_beside_a_held_row(deps: Deps, fake_stripe: FakeStripe) -> None:
    seed_dispute(fake_stripe)
    seed_dispute(fake_stripe)
    await disputes.reconcile(deps)  # the rows exist from here on
    async with deps.sessions() as session, session.begin():
        # What the rows hold is older than the next read: it updates both.
        await session.execute(
            text("UPDATE dispute SET version_created = version_created - 100")
        )
    listing = await deps.stripe.v1.disputes.list_async({"limit": 10})
    first, second = (d.id for d in listing.data)
    # Started outside the transaction below: its Stripe calls are its own.
    outside = contextvars.copy_context()

    async with deps.sessions() as holder, holder.begin():
        # Someone else (the event worker) is busy with the second dispute.
        await holder.execute(
            text("SELECT id FROM dispute WHERE id = :id FOR UPDATE"), {"id": second}
        )
        running = asyncio.get_running_loop().create_task(
            disputes.reconcile(deps), context=outside
        )
        await eventually(
            lambda: _waiting_on_a_lock(deps), what="reconcile to wait for the row"
        )
        # While reconcile waits for the second, the first must not be held.
        async with deps.sessions() as other, other.begin():
            free = await other.execute(
                text("SELECT id FROM dispute WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": first},
            )
            assert free.scalar_one() == first
    assert await asyncio.wait_for(running, timeout=10) == 2
