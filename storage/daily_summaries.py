"""The daily summary's rows (one per local day) and the events it counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import insert_ignore, rowcount
from storage.models import DailySummary, StripeEvent


@dataclass(frozen=True, slots=True)
class Claim:
    """A day this claimant may post; `attempts` uploads were begun before."""

    day: str
    attempts: int
    first_attempt_at: float | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the summary reads it (the payload still JSON text)."""

    id: str
    type: str
    created: int
    payload: str


async def claim_day(
    session: AsyncSession, *, day: str, claimant: str, now: float, lease: float
) -> Claim | None:
    """Take the day for this claimant, or None if it is posted or held.

    A new day is claimed by the insert (the primary key lets one instance
    win); a day whose claimant went quiet (lease run out) by one conditional
    UPDATE, which only one of two racing instances can win.
    """
    values = {
        "day": day,
        "status": "claimed",
        "claimed_by": claimant,
        "claimed_until": now + lease,
        "attempts": 0,
        "created_at": now,
    }
    if await insert_ignore(session, DailySummary, values):
        return Claim(day=day, attempts=0, first_attempt_at=None)
    result = await session.execute(
        update(DailySummary)
        .where(
            col(DailySummary.day) == day,
            col(DailySummary.status) == "claimed",
            col(DailySummary.claimed_until) <= now,
        )
        .values(claimed_by=claimant, claimed_until=now + lease)
        .returning(col(DailySummary.attempts), col(DailySummary.first_attempt_at))
    )
    row = result.first()
    if row is None:
        return None
    return Claim(day=day, attempts=int(row[0]), first_attempt_at=row[1])


async def begin_attempt(
    session: AsyncSession, *, day: str, claimant: str, channel: str, now: float
) -> bool:
    """Count an upload about to begin; False if the claim is no longer ours.

    Committed before the upload, so whoever takes the day over next knows
    the file may already be in the channel.
    """
    result = await session.execute(
        update(DailySummary)
        .where(
            col(DailySummary.day) == day,
            col(DailySummary.status) == "claimed",
            col(DailySummary.claimed_by) == claimant,
        )
        .values(
            attempts=col(DailySummary.attempts) + 1,
            first_attempt_at=func.coalesce(col(DailySummary.first_attempt_at), now),
            channel=channel,
        )
    )
    return rowcount(result) == 1


async def mark_posted(
    session: AsyncSession, *, day: str, file_id: str | None, channel: str, now: float
) -> None:
    """The day's summary is in Slack: no instance posts it again."""
    if await insert_ignore(
        session,
        DailySummary,
        {
            "day": day,
            "status": "posted",
            "claimed_until": 0.0,
            "attempts": 1,
            "channel": channel,
            "file_id": file_id,
            "created_at": now,
            "posted_at": now,
        },
    ):
        return
    await session.execute(
        update(DailySummary)
        .where(col(DailySummary.day) == day, col(DailySummary.status) == "claimed")
        .values(
            status="posted",
            file_id=file_id,
            channel=channel,
            posted_at=now,
            claimed_by=None,
            claimed_until=0.0,
        )
    )


async def release(
    session: AsyncSession, *, day: str, claimant: str, error: str, retry_at: float
) -> None:
    """Give the day back after a failure; anyone may take it from `retry_at`."""
    await session.execute(
        update(DailySummary)
        .where(
            col(DailySummary.day) == day,
            col(DailySummary.status) == "claimed",
            col(DailySummary.claimed_by) == claimant,
        )
        .values(claimed_until=retry_at, last_error=error)
    )


async def get_day(session: AsyncSession, *, day: str) -> DailySummary | None:
    return await session.get(DailySummary, day)


async def first_event_received_at(session: AsyncSession) -> float | None:
    """When the bot stored its first event: the oldest by arrival (seq, indexed)."""
    result = await session.scalar(
        select(col(StripeEvent.received_at))
        .where(col(StripeEvent.seq).is_not(None))
        .order_by(col(StripeEvent.seq))
        .limit(1)
    )
    return None if result is None else float(result)


async def stream_events(
    session: AsyncSession,
    *,
    types: Sequence[str],
    created_from: int,
    created_before: int,
    livemode: bool,
    batch: int = 1000,
) -> AsyncIterator[list[StoredEvent]]:
    """Events of `types` created in [created_from, created_before), in
    batches, oldest first (then by arrival), so a long history is never held
    in memory at once."""
    stmt = (
        select(
            col(StripeEvent.id),
            col(StripeEvent.type),
            col(StripeEvent.created),
            col(StripeEvent.payload),
        )
        .where(
            col(StripeEvent.type).in_(list(types)),
            col(StripeEvent.created) >= created_from,
            col(StripeEvent.created) < created_before,
            col(StripeEvent.livemode) == livemode,
        )
        .order_by(col(StripeEvent.created), col(StripeEvent.seq))
        .execution_options(yield_per=batch)
    )
    result = await session.stream(stmt)
    async for part in result.partitions(batch):
        yield [StoredEvent(r[0], r[1], int(r[2]), r[3]) for r in part]
