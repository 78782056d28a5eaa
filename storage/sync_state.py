"""Whether a full read from Stripe has finished at least once."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import insert_ignore
from storage.models import SyncState


async def mark_finished(session: AsyncSession, *, name: str, now: float) -> None:
    """Record that a full read of `name` finished now."""
    if not await insert_ignore(session, SyncState, {"name": name, "finished_at": now}):
        await session.execute(
            update(SyncState).where(col(SyncState.name) == name).values(finished_at=now)
        )


async def finished_at(session: AsyncSession, *, name: str) -> float | None:
    """When a full read of `name` last finished; None if it never has."""
    result = await session.scalar(
        select(col(SyncState.finished_at)).where(col(SyncState.name) == name)
    )
    return None if result is None else float(result)
