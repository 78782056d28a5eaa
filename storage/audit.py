"""The audit log: who did what to money, when. Rows are only ever added."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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
