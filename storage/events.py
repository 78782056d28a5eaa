"""Stored Stripe events: intake, claims for processing, outcomes."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from storage.models import StripeEvent


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A verified delivery, as it is stored."""

    id: str
    type: str
    livemode: bool
    created: int
    object_id: str | None
    payload: str


@dataclass(frozen=True, slots=True)
class DueEvent:
    """A stored event claimed for processing."""

    id: str
    type: str
    payload: str
    attempts: int


async def store_events(
    session: AsyncSession, *, events: Sequence[NewEvent], now: float
) -> set[str]:
    """Store verified events in one statement, in the session's transaction;
    returns the ids that were new. (Webhook intake uses insert_events.)

    Ids stored before (redeliveries, or a racing delivery that won) are left
    as they are: INSERT … ON CONFLICT DO NOTHING RETURNING id.
    """
    if not events:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = StripeEvent.__table__  # type: ignore[attr-defined]
    # Core insert with a list of parameter sets: compiled once and cached,
    # sent as multi-row INSERTs ("insertmanyvalues"), RETURNING the new ids.
    stmt = insert(table).on_conflict_do_nothing().returning(table.c.id)
    params = [
        {
            "id": e.id,
            "type": e.type,
            "livemode": e.livemode,
            "created": e.created,
            "object_id": e.object_id,
            "payload": e.payload,
            "received_at": now,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": 0.0,
        }
        for e in events
    ]
    result = await session.execute(stmt, params)
    return set(result.scalars().all())


# Intake's one statement, sent on the driver's own connection: SQLAlchemy's
# execute costs a trip to aiosqlite's thread for each of cursor, execute,
# fetch and close (and a prepared statement per batch size on asyncpg); the
# driver's call is one trip, and outside a transaction one statement is its
# own durable transaction (no BEGIN, no COMMIT to wait for).
_PG_INSERT = """
INSERT INTO stripe_event (id, type, livemode, created, object_id, payload,
                          received_at, status, attempts, next_attempt_at)
SELECT id, type, livemode, created, object_id, payload, $7, 'pending', 0, 0.0
FROM unnest($1::text[], $2::text[], $3::bool[], $4::bigint[], $5::text[],
            $6::text[]) WITH ORDINALITY
     AS e(id, type, livemode, created, object_id, payload, n)
ORDER BY n
ON CONFLICT DO NOTHING RETURNING id
"""


@functools.cache
def _sqlite_insert(rows: int) -> str:
    """The multi-row INSERT for `rows` events (SQLite has no arrays).

    Each row's `seq` is given here, after the largest so far, as migration
    0003's trigger would set it: the trigger (WHEN NEW.seq IS NULL) then
    does not run its UPDATE of the row just written (about a fifth of the
    insert's cost). A redelivery skipped by ON CONFLICT leaves a gap, which
    the order does not mind.
    """
    values = ", ".join(
        f"(?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0.0, {_SQLITE_LAST_SEQ} + {n})"
        for n in range(1, rows + 1)
    )
    # Placeholders and constants only: the values travel as parameters.
    return (
        "INSERT INTO stripe_event (id, type, livemode, created, object_id, "  # noqa: S608
        "payload, received_at, status, attempts, next_attempt_at, seq) "
        f"VALUES {values} ON CONFLICT DO NOTHING RETURNING id"
    )


_SQLITE_LAST_SEQ = "(SELECT coalesce(max(seq), 0) FROM stripe_event)"


async def insert_events(
    conn: AsyncConnection, *, events: Sequence[NewEvent], now: float
) -> set[str]:
    """Store verified events in one statement; returns the ids that were new.

    Ids stored before (redeliveries, or a racing delivery that won) are left
    as they are: INSERT … ON CONFLICT DO NOTHING RETURNING id. `conn` must
    not be in a transaction: the statement is its own, durably committed
    before this returns. Rows go in the order given.
    """
    if not events:
        return set()
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "postgresql":
        rows = await driver.fetch(
            _PG_INSERT,
            [e.id for e in events],
            [e.type for e in events],
            [e.livemode for e in events],
            [e.created for e in events],
            [e.object_id for e in events],
            [e.payload for e in events],
            now,
        )
    else:
        params: list[object] = []
        for e in events:
            params += (e.id, e.type, e.livemode, e.created, e.object_id, e.payload, now)
        rows = await driver.execute_fetchall(_sqlite_insert(len(events)), params)
    return {row[0] for row in rows}


# The worker's statements run on every round: built once, on the table (Core:
# no ORM compile step), with bound parameters, so SQLAlchemy's statement cache
# finds them without building them again.
_table = StripeEvent.__table__  # type: ignore[attr-defined]
# A literal, not a parameter: the planners use the partial index
# ix_stripe_event_claim (WHERE status = 'pending') only when the query's
# own WHERE says so in the text (PostgreSQL's generic plans for prepared
# statements, and SQLite, cannot see through a bound parameter).
_PENDING = _table.c.status == literal_column("'pending'")
_CLAIMED = select(_table.c.id, _table.c.type, _table.c.payload, _table.c.attempts)
# Both claims walk ix_stripe_event_claim (next_attempt_at, seq) in its own
# order and stop after `limit` rows they could lock: no sort, no look at
# events that are not due, and payloads read only for the rows returned.
# Failed events whose retry is due (next_attempt_at in (0, now]), the
# earliest due first...
_DUE_RETRIES = (
    _CLAIMED.where(
        _PENDING,
        _table.c.next_attempt_at > 0.0,
        _table.c.next_attempt_at <= bindparam("now"),
    )
    .order_by(_table.c.next_attempt_at, _table.c.seq)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
# ...then events never tried (next_attempt_at = 0), in arrival order.
_FRESH = (
    _CLAIMED.where(_PENDING, _table.c.next_attempt_at == 0.0)
    .order_by(_table.c.seq)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_DUE_ONE = _CLAIMED.where(
    _table.c.id == bindparam("only"),
    _PENDING,
    _table.c.next_attempt_at <= bindparam("now"),
).with_for_update(skip_locked=True)
_MARK_PROCESSED = (
    update(_table)
    .where(_table.c.id.in_(bindparam("ids", expanding=True)))
    .values(status="processed", processed_at=bindparam("now"), last_error=None)
)


async def lock_due_events(
    session: AsyncSession, *, now: float, limit: int, only: str | None = None
) -> list[DueEvent]:
    """Lock up to `limit` due events for this transaction: retries that are
    due first (so a backlog of new events cannot hold them back), then new
    events oldest first (in arrival order).

    Other instances skip the locked rows (FOR UPDATE SKIP LOCKED on
    PostgreSQL; SQLite has one writer), and a crash releases them with the
    transaction: no lease to wait out. Each claim reads an index range in
    its own order, so it costs the same at any backlog.
    """
    if only is not None:
        rows = await session.execute(_DUE_ONE, {"now": now, "only": only})
        return [DueEvent(r.id, r.type, r.payload, r.attempts) for r in rows.all()]
    rows = await session.execute(_DUE_RETRIES, {"now": now, "limit": limit})
    due = [DueEvent(r.id, r.type, r.payload, r.attempts) for r in rows.all()]
    if len(due) < limit:
        rows = await session.execute(_FRESH, {"limit": limit - len(due)})
        due += [DueEvent(r.id, r.type, r.payload, r.attempts) for r in rows.all()]
    return due


async def mark_processed(
    session: AsyncSession, *, event_ids: Sequence[str], now: float
) -> None:
    await session.execute(_MARK_PROCESSED, {"ids": list(event_ids), "now": now})


async def mark_failed(
    session: AsyncSession, *, event_id: str, error: str, retry_at: float
) -> int:
    """Record a failed attempt and when to try again; returns the attempt count."""
    await session.execute(
        update(StripeEvent)
        .where(col(StripeEvent.id) == event_id)
        .values(
            attempts=col(StripeEvent.attempts) + 1,
            next_attempt_at=retry_at,
            last_error=error[:2000],
        )
    )
    attempts = await session.scalar(
        select(col(StripeEvent.attempts)).where(col(StripeEvent.id) == event_id)
    )
    return int(attempts or 0)
