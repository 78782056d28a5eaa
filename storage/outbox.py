"""The Slack outbox: every message is a row first, then a request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import insert_ignore, rowcount
from storage.models import OutboxMessage

PENDING = "pending"
SENT = "sent"


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    now: float,
    digest_line: str | None = None,
    thread_key: str | None = None,
    reply_broadcast: bool = False,
    facts: dict[str, Any] | None = None,
) -> bool:
    """Queue a new message; False if a message with this key exists already.

    `facts`: what a storm summary and its CSV say of an alert (bot.storm_csv).
    """
    return await insert_ignore(
        session,
        OutboxMessage,
        {
            "key": key,
            "kind": "post",
            "channel": channel,
            "text": text,
            "blocks": blocks,
            "digest_line": digest_line,
            "thread_key": thread_key,
            "reply_broadcast": reply_broadcast,
            "facts": facts,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": 0.0,
            "created_at": now,
        },
    )


async def enqueue_update(
    session: AsyncSession,
    *,
    key: str,
    target_key: str,
    text: str,
    blocks: list[dict[str, Any]] | None,
    now: float,
) -> bool:
    """Queue an edit of the message queued under `target_key`.

    `key` names this version of the message (e.g. "…:approved"), so the same
    edit queued twice is sent once; edits go out in the order queued.
    """
    channel = await session.scalar(
        select(col(OutboxMessage.channel)).where(col(OutboxMessage.key) == target_key)
    )
    if channel is None:
        raise LookupError(f"no outbox message {target_key!r} to update")
    return await insert_ignore(
        session,
        OutboxMessage,
        {
            "key": key,
            "kind": "update",
            "channel": channel,
            "text": text,
            "blocks": blocks,
            "target_key": target_key,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": 0.0,
            "created_at": now,
        },
    )


ENQUEUE_SLICE = 32  # rows per INSERT of `enqueue_many`


@dataclass(frozen=True)
class Queued:
    """One new message for `enqueue_many`: a post, or a thread reply."""

    key: str
    channel: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_key: str | None = None
    reply_broadcast: bool = False
    digest_line: str | None = None
    # What a storm summary and its CSV say of an alert (bot.storm_csv).
    facts: dict[str, Any] | None = None


async def enqueue_many(
    session: AsyncSession, *, messages: Sequence[Queued], now: float
) -> None:
    """Queue many posts in one executemany (a scan's reminders, a round's
    alerts); keys that exist already are skipped, as with `enqueue`."""
    if not messages:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {
            "key": m.key,
            "kind": "post",
            "channel": m.channel,
            "text": m.text,
            "blocks": m.blocks,
            "digest_line": m.digest_line,
            "thread_key": m.thread_key,
            "reply_broadcast": m.reply_broadcast,
            "facts": m.facts,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": 0.0,
            "created_at": now,
        }
        for m in messages
    ]
    # The table, not the entity: a plain executemany, without the ORM's
    # per-row bookkeeping (thousands of reminders in one scan).
    table = OutboxMessage.metadata.tables[OutboxMessage.__tablename__]
    statement = insert(table).on_conflict_do_nothing()
    # In slices: rows are encoded (JSON) in the event loop, and 200 alerts
    # at once held webhook 200s back ~10 ms; each slice's wait lets them in.
    for start in range(0, len(rows), ENQUEUE_SLICE):
        await session.execute(statement, rows[start : start + ENQUEUE_SLICE])


# The sender's statements run on every round: built once, on the table (Core:
# no ORM compile step, no ORM bulk-update bookkeeping), with bound parameters.
_table = OutboxMessage.__table__  # type: ignore[attr-defined]
_DUE = (
    _table.c.status == PENDING,
    _table.c.next_attempt_at <= bindparam("now"),
    or_(_table.c.claimed_until.is_(None), _table.c.claimed_until < bindparam("now")),
)
# The channels that have pending messages, one index probe each (a "loose
# index scan" on ix_outbox_due (status, channel, id)), not a GROUP BY over
# every waiting message; then, per channel, its first due message, the
# first rows of that channel's index range. Costs channels x log(backlog).
_PENDING = _table.c.status == PENDING
_first_channel = (
    select(_table.c.channel)
    .where(_PENDING)
    .order_by(_table.c.channel)
    .limit(1)
    .scalar_subquery()
)
_channels = select(_first_channel.label("channel")).cte("channels", recursive=True)
_channels = _channels.union_all(
    select(
        select(_table.c.channel)
        .where(_PENDING, _table.c.channel > _channels.c.channel)
        .order_by(_table.c.channel)
        .limit(1)
        .scalar_subquery()
    ).where(_channels.c.channel.is_not(None))
)
_first_due = (
    select(_table.c.id)
    .where(*_DUE, _table.c.channel == _channels.c.channel)
    .order_by(_table.c.id)
    .limit(1)
    .scalar_subquery()
)
_NEXT_CHANNELS = select(_channels.c.channel, _first_due.label("first")).where(
    _channels.c.channel.is_not(None),
    _channels.c.channel.not_in(bindparam("exclude", expanding=True)),
)
# Whole rows (the sender needs them as objects), oldest first.
_CHANNEL_DUE = (
    select(OutboxMessage)
    .where(*_DUE, _table.c.channel == bindparam("channel"))
    .order_by(_table.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_BY_IDS = _table.c.id.in_(bindparam("ids", expanding=True))
_CLAIM = (
    update(_table)
    .where(_BY_IDS)
    .values(claimed_by=bindparam("claimant"), claimed_until=bindparam("until"))
)
_RELEASE = update(_table).where(_BY_IDS).values(claimed_by=None, claimed_until=None)
_PARENT = select(_table.c.ts).where(_table.c.key == bindparam("key"))
_MARK_SENT = (
    update(_table)
    .where(_BY_IDS)
    .values(
        status=SENT,
        ts=bindparam("ts"),
        sent_at=bindparam("now"),
        claimed_by=None,
        claimed_until=None,
        last_error=None,
    )
)
_DEFER = (
    update(_table)
    .where(_BY_IDS)
    .values(next_attempt_at=bindparam("until"), claimed_by=None, claimed_until=None)
)


async def next_channels(
    session: AsyncSession, *, now: float, exclude: Sequence[str], limit: int = 20
) -> list[str]:
    """Channels with due messages, the longest-waiting first."""
    rows = await session.execute(_NEXT_CHANNELS, {"now": now, "exclude": list(exclude)})
    # One row per channel: ordered here, not by a sort in the database.
    firsts = sorted((r[1], r[0]) for r in rows.all() if r[1] is not None)
    return [channel for _, channel in firsts[:limit]]


def _all(rows: list[OutboxMessage]) -> list[OutboxMessage]:
    return rows


async def claim_for_channel(
    session: AsyncSession,
    *,
    channel: str,
    claimant: str,
    now: float,
    lease: float,
    limit: int,
    choose: Callable[[list[OutboxMessage]], list[OutboxMessage]] = _all,
    only: ColumnElement[bool] | None = None,
) -> list[OutboxMessage]:
    """Claim what `choose` picks of the channel's due messages (oldest first,
    up to `limit`); the others are left as they were.

    Rows that another process holds are skipped (FOR UPDATE SKIP LOCKED on
    PostgreSQL; SQLite's single writer gives the same one-claimant rule).
    The rows come back as they were before this claim, so that
    `may_have_gone_out` can read an earlier claimant's mark. `only` narrows
    the due messages (during a storm: those that are never folded).
    """
    stmt = _CHANNEL_DUE if only is None else _CHANNEL_DUE.where(only)
    rows = (
        (await session.execute(stmt, {"now": now, "channel": channel, "limit": limit}))
        .scalars()
        .all()
    )
    chosen = choose(list(rows)) if rows else []
    if not chosen:
        return []
    await session.execute(
        _CLAIM,
        {"ids": [r.id for r in chosen], "claimant": claimant, "until": now + lease},
    )
    return chosen


def may_have_gone_out(row: OutboxMessage) -> bool:
    """Whether an earlier attempt may have reached Slack (as `claim_for_channel`
    returned it): one failed with an unknown outcome, or a claimant stopped
    between claiming and recording (killed, shut down mid-request, or its
    commit of "sent" failed). A row is claimed only to be sent, and every
    outcome that proves nothing was sent (rate limit, parent not sent yet)
    clears the claim without counting an attempt."""
    return row.attempts > 0 or row.claimed_by is not None


_RENEW = (
    update(_table)
    .where(
        _BY_IDS,
        _table.c.status == PENDING,
        _table.c.claimed_by == bindparam("claimant"),
    )
    .values(claimed_until=bindparam("until"))
)


async def renew_claims(
    session: AsyncSession,
    *,
    ids: Sequence[int],
    claimant: str,
    now: float,
    lease: float,
) -> int:
    """Extend `claimant`'s claim on `ids` to `now + lease`; returns how many
    rows it still held. Fewer than `ids` means another process took some
    over (the lease ran out): the claimant must then leave them alone. In a
    transaction this also locks the rows it renewed until the commit, so a
    write that follows in it cannot undo a takeover."""
    if not ids:
        return 0
    result = await session.execute(
        _RENEW, {"ids": list(ids), "claimant": claimant, "until": now + lease}
    )
    return rowcount(result)


async def release(session: AsyncSession, *, ids: Sequence[int]) -> None:
    """Give back claimed rows untouched (not sent in this round)."""
    if ids:
        await session.execute(_RELEASE, {"ids": list(ids)})


@dataclass(frozen=True, slots=True)
class Parent:
    """The message a reply or an edit goes to."""

    queued: bool
    ts: str | None  # None until it is sent

    @property
    def unsent(self) -> bool:
        """Queued, not sent yet: what goes to it must wait."""
        return self.queued and self.ts is None


async def find_parent(session: AsyncSession, *, key: str) -> Parent:
    """The message queued under `key` (not queued at all if there is none)."""
    row = (await session.execute(_PARENT, {"key": key})).first()
    return Parent(queued=False, ts=None) if row is None else Parent(True, row[0])


async def mark_sent(
    session: AsyncSession, *, ids: Sequence[int], ts: str | None, now: float
) -> None:
    await session.execute(_MARK_SENT, {"ids": list(ids), "ts": ts, "now": now})


async def mark_failed(
    session: AsyncSession, *, ids: Sequence[int], error: str, retry_at: float
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(list(ids)))
        .values(
            attempts=col(OutboxMessage.attempts) + 1,
            next_attempt_at=retry_at,
            last_error=error[:2000],
            claimed_by=None,
            claimed_until=None,
        )
    )


async def defer(session: AsyncSession, *, ids: Sequence[int], until: float) -> None:
    """Wait without counting an attempt (rate limit, parent not sent yet)."""
    await session.execute(_DEFER, {"ids": list(ids), "until": until})


@dataclass(frozen=True, slots=True)
class Backlog:
    depth: int  # messages waiting
    oldest_age: float  # seconds the oldest one has waited


async def stats(session: AsyncSession, *, now: float) -> Backlog:
    """How many messages wait, and how long the oldest has waited."""
    row = (
        await session.execute(
            select(func.count(), func.min(col(OutboxMessage.created_at))).where(
                col(OutboxMessage.status) == PENDING
            )
        )
    ).one()
    depth, oldest = int(row[0]), row[1]
    return Backlog(depth, (now - oldest) if oldest is not None else 0.0)


async def release_claims(session: AsyncSession, *, claimant: str | None = None) -> int:
    """Free the claims of one process (at its shutdown), or every claim (at
    start-up on SQLite, where there is only ever one process).

    The lease ends now but the claimant stays named: a claimed row was being
    sent, so whoever sends it next looks for it in Slack first."""
    stmt = update(OutboxMessage).where(col(OutboxMessage.claimed_by).is_not(None))
    if claimant is not None:
        stmt = stmt.where(col(OutboxMessage.claimed_by) == claimant)
    result = await session.execute(stmt.values(claimed_until=0.0))
    return rowcount(result)
