"""Small SQL helpers that differ by dialect."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert
from sqlmodel import SQLModel


async def insert_ignore(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row is new."""
    stmt = _insert_ignore(session.get_bind().dialect.name, model)
    result: CursorResult[Any] = await session.execute(stmt, values)  # type: ignore[assignment]
    return result.rowcount == 1


@functools.cache
def _insert_ignore(dialect: str, model: type[SQLModel]) -> Insert:
    # On the table, not the ORM entity: Core statements compile once and are
    # cached; the ORM bulk path recompiles. Built once per table, not per row.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__  # type: ignore[attr-defined]
    return insert(table).on_conflict_do_nothing()


def rowcount(result: Any) -> int:
    """Rows an UPDATE changed (typed access to CursorResult.rowcount)."""
    return int(result.rowcount)
