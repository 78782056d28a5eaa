"""Small SQL helpers that differ by dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel


async def insert_ignore(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row is new."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # On the table, not the ORM entity: Core statements compile once and are
    # cached; the ORM bulk path recompiles.
    table = model.__table__  # type: ignore[attr-defined]
    stmt = insert(table).on_conflict_do_nothing()
    result: CursorResult[Any] = await session.execute(stmt, values)  # type: ignore[assignment]
    return result.rowcount == 1


def rowcount(result: Any) -> int:
    """Rows an UPDATE changed (typed access to CursorResult.rowcount)."""
    return int(result.rowcount)
