"""The audit log: who did what to money, when. Rows are only ever added."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import AuditLog


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str,
    now: float,
    amount: int | None = None,
    currency: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an entry in the caller's transaction, so it lands with the change."""
    session.add(
        AuditLog(
            at=now,
            actor=actor,
            action=action,
            subject=subject,
            amount=amount,
            currency=currency,
            details=details or {},
        )
    )
    await session.flush()


async def entries_for(session: AsyncSession, *, subject: str) -> Sequence[AuditLog]:
    rows = await session.execute(
        select(AuditLog)
        .where(col(AuditLog.subject) == subject)
        .order_by(col(AuditLog.id))
    )
    return rows.scalars().all()
