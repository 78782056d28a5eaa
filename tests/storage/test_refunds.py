"""Refund request rows: who may settle an approved request, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import refunds as store
from storage.engine import make_engine, make_sessionmaker
from storage.models import RefundRequest
from tests.support import refund_request

NOW = 1_800_000_000.0
LEASE = 60.0


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def approved(sessions: async_sessionmaker[AsyncSession]) -> int:
    """A request a manager approved: the approval holds attempt 1."""
    async with sessions() as session, session.begin():
        row = await store.create_request(
            session,
            new=refund_request(),
            now=NOW,
            ttl_seconds=3600.0,
        )
        assert row.id is not None
        assert await store.approve(
            session, request_id=row.id, user_id="U_MANAGER", now=NOW, lease=LEASE
        )
        return row.id


async def stored(
    sessions: async_sessionmaker[AsyncSession], request_id: int
) -> RefundRequest:
    async with sessions() as session:
        row = await store.get_request(session, request_id=request_id)
    assert row is not None
    return row


async def test_the_approval_holds_the_first_attempt_for_its_lease(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    request_id = await approved(sessions)
    row = await stored(sessions, request_id)
    assert (row.status, row.stripe_attempts) == ("approved", 1)
    async with sessions() as session, session.begin():
        assert await store.approved_ids(session, now=NOW + LEASE - 1) == []
        assert not await store.claim_attempt(
            session, request_id=request_id, now=NOW + LEASE - 1, lease=LEASE
        )
        assert await store.claim_attempt(
            session, request_id=request_id, now=NOW + LEASE, lease=LEASE
        )
    assert (await stored(sessions, request_id)).stripe_attempts == 2


async def test_an_attempt_overtaken_by_a_later_claim_cannot_settle_the_request(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    request_id = await approved(sessions)
    async with sessions() as session, session.begin():
        # Attempt 1 ran past its lease; attempt 2 was claimed meanwhile.
        assert await store.claim_attempt(
            session, request_id=request_id, now=NOW + LEASE, lease=LEASE
        )
        assert not await store.fail_unrefunded(
            session, request_id=request_id, attempt=1, message="Only 0.00 USD left"
        )
        assert not await store.retry_later(
            session, request_id=request_id, attempt=1, error="timeout", retry_at=NOW
        )
    row = await stored(sessions, request_id)
    assert (row.status, row.next_attempt_at) == ("approved", NOW + 2 * LEASE)
    async with sessions() as session, session.begin():
        assert await store.fail_unrefunded(
            session, request_id=request_id, attempt=2, message="Stripe refused"
        )
    row = await stored(sessions, request_id)
    assert (row.status, row.failure_message) == ("failed", "Stripe refused")


async def test_a_refund_stripe_holds_is_recorded_over_a_failure_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    request_id = await approved(sessions)
    async with sessions() as session, session.begin():
        assert await store.fail_unrefunded(
            session, request_id=request_id, attempt=1, message="Only 0.00 USD left"
        )
    async with sessions() as session, session.begin():
        for refund_id, recorded in (("re_1", True), ("re_2", False)):
            assert (
                await store.record_refund(
                    session,
                    request_id=request_id,
                    status=store.SUCCEEDED,
                    refund_id=refund_id,
                    refund_status="succeeded",
                    refund_status_at=int(NOW),
                    refund_reference=None,
                    refund_reference_status=None,
                    failure_message=None,
                )
                is recorded
            )
    row = await stored(sessions, request_id)
    assert (row.status, row.refund_id, row.failure_message) == (
        "succeeded",
        "re_1",
        None,
    )
