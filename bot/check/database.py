"""The database: reachable, and at the schema the code needs."""

from __future__ import annotations

from bot.check.finding import Finding
from bot.deps import Deps
from storage.migrate import current_revision, head_revision


async def check_database(deps: Deps) -> list[Finding]:
    try:
        current = await current_revision(deps.engine)
    except Exception as exc:  # any driver error means "cannot reach it"
        return [
            Finding(
                False,
                f"database: cannot connect ({type(exc).__name__})",
                "check DATABASE_URL and that the database server is running",
            )
        ]
    head = head_revision()
    if current != head:
        return [
            Finding(
                False,
                f"database: schema at {current or 'nothing'}, the code needs {head}",
                "run `python -m bot migrate` (on SQLite the server does it at start)",
            )
        ]
    return [Finding(True, f"database: reachable, schema at revision {head}")]
