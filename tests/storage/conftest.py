"""What the storage tests share: an engine on the test's fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import make_engine


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated database of `db_url` (SQLite, then PostgreSQL)."""
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()
