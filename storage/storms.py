"""Storm summaries: a channel's waiting alerts folded into one message.

The fold is one transaction: a `storm_summary` row, and the alerts it covers
moved from "pending" to "folded" by one UPDATE that names the summary. What
is queued later is not touched and waits for the next round (or summary).
Folded alerts become "sent" (with the summary's ts) when the summary is posted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import rowcount
from storage.models import OutboxMessage, StormSummary
from storage.outbox import PENDING, SENT

FOLDED = "folded"
CLAIMED = "claimed"  # alerts folded, summary not posted
POSTED = "posted"  # summary posted, its CSV not uploaded
DONE = "done"
OPEN = (CLAIMED, POSTED)

_out = OutboxMessage.__table__  # type: ignore[attr-defined]
_sum = StormSummary.__table__  # type: ignore[attr-defined]

# What a digest could carry (outbox_sender's digest rule): a plain post with
# a digest line, not a thread reply. Everything else (cards and requests with
# buttons, edits, replies) goes out as itself.
FOLDABLE = and_(
    _out.c.kind == "post",
    _out.c.digest_line.is_not(None),
    _out.c.thread_key.is_(None),
)
NOT_FOLDABLE = not_(FOLDABLE)
_DUE = and_(
    _out.c.status == PENDING,
    _out.c.channel == bindparam("in_channel"),
    _out.c.next_attempt_at <= bindparam("now"),
    or_(_out.c.claimed_until.is_(None), _out.c.claimed_until < bindparam("now")),
)
# The channel's waiting rows as a range of ix_outbox_due (status, channel,
# id), read in that index's order. Written as row-value bounds, not two
# equalities: with equalities PostgreSQL reduces the order to "id" and may
# walk the primary key through every sent row, filtering (it guesses that
# pending rows are spread evenly over the ids; they are the newest). The
# range can only be served, in order, by ix_outbox_due.
_KEY = tuple_(_out.c.status, _out.c.channel)
_THIS = tuple_(literal(PENDING), bindparam("in_channel"))
_IN_INDEX_ORDER = (_out.c.status, _out.c.channel, _out.c.id)
_DUE_RANGE = and_(
    _KEY >= _THIS,
    _KEY <= _THIS,
    _out.c.next_attempt_at <= bindparam("now"),
    or_(_out.c.claimed_until.is_(None), _out.c.claimed_until < bindparam("now")),
)
# The first rows of the channel's range of ix_outbox_due, one flag each:
# bounded by `limit`, whatever the backlog.
_WAITING = (
    select(
        case((FOLDABLE, 1), else_=0).label("foldable"),
        _out.c.created_at,
    )
    .where(_DUE_RANGE)
    .order_by(*_IN_INDEX_ORDER)
    .limit(bindparam("limit"))
)


@dataclass(frozen=True, slots=True)
class Waiting:
    """What the first `limit` due messages of a channel are."""

    foldable: int
    other: int
    oldest_foldable: float | None  # created_at of the first foldable one


async def waiting(
    session: AsyncSession, *, channel: str, now: float, limit: int
) -> Waiting:
    rows = (
        await session.execute(
            _WAITING, {"in_channel": channel, "now": now, "limit": limit}
        )
    ).all()
    foldable = [r[1] for r in rows if r[0]]
    return Waiting(
        foldable=len(foldable),
        other=len(rows) - len(foldable),
        oldest_foldable=foldable[0] if foldable else None,
    )


async def last_summary_at(session: AsyncSession, *, channel: str) -> float | None:
    """When the channel's latest storm summary was made (None: never)."""
    return await session.scalar(
        select(func.max(col(StormSummary.created_at))).where(
            col(StormSummary.channel) == channel
        )
    )


_FOLDABLE_IDS = (
    select(_out.c.id)
    .where(_DUE_RANGE, FOLDABLE)
    .order_by(*_IN_INDEX_ORDER)
    .limit(bindparam("limit"))
)
_FOLD = (
    update(_out)
    .where(
        _DUE,
        FOLDABLE,
        _out.c.id.between(bindparam("first"), bindparam("last")),
    )
    .values(status=FOLDED, storm_id=bindparam("storm"))
)
_ROWS_OF = (
    select(_out.c.key, _out.c.facts)
    .where(_out.c.storm_id == bindparam("storm"))
    .order_by(_out.c.id)
)
# Top-level posts that are never folded (they carry buttons), waiting in the
# channel: named by the summary.
_UNFOLDED = (
    select(_out.c.key, _out.c.text)
    .where(
        _out.c.status == PENDING,
        _out.c.channel == bindparam("in_channel"),
        _out.c.kind == "post",
        _out.c.thread_key.is_(None),
        _out.c.digest_line.is_(None),
    )
    .order_by(_out.c.id)
    .limit(bindparam("limit"))
)


@dataclass(frozen=True, slots=True)
class FoldedRow:
    key: str
    facts: dict[str, Any] | None


async def fold(
    session: AsyncSession, *, channel: str, now: float, limit: int
) -> tuple[StormSummary, list[FoldedRow]] | None:
    """Fold the channel's due foldable alerts (the oldest `limit`) into a new
    summary row; None when there were none. The caller fills in the
    summary's words (`set_words`) in the same transaction."""
    params = {"in_channel": channel, "now": now, "limit": limit}
    ids = (await session.execute(_FOLDABLE_IDS, params)).scalars().all()
    if not ids:
        return None
    summary = StormSummary(
        key=f"storm:{uuid.uuid4().hex}", channel=channel, text="", created_at=now
    )
    session.add(summary)
    await session.flush()
    # By id range, re-checked per row: a row another sender took meanwhile
    # stays out; a row queued after the look is beyond `last`.
    await session.execute(
        _FOLD,
        {"in_channel": channel, "now": now, "first": ids[0], "last": ids[-1]}
        | {"storm": summary.id},
    )
    rows = [
        FoldedRow(key, facts)
        for key, facts in (await session.execute(_ROWS_OF, {"storm": summary.id}))
    ]
    if not rows:
        await session.execute(delete(StormSummary).where(_sum.c.id == summary.id))
        return None
    return summary, rows


async def unfolded(
    session: AsyncSession, *, channel: str, limit: int
) -> list[tuple[str, str]]:
    """(key, text) of the channel's waiting messages that are never folded."""
    params = {"in_channel": channel, "limit": limit}
    return [(r[0], r[1]) for r in await session.execute(_UNFOLDED, params)]


async def set_words(
    session: AsyncSession,
    *,
    summary_id: int,
    text: str,
    blocks: list[dict[str, Any]],
    events: int,
) -> None:
    await session.execute(
        update(_sum)
        .where(_sum.c.id == summary_id)
        .values(text=text, blocks=blocks, events=events)
    )


async def rows_of(session: AsyncSession, *, summary_id: int) -> list[FoldedRow]:
    """The alerts a summary covers, in the order they were queued."""
    result = await session.execute(_ROWS_OF, {"storm": summary_id})
    return [FoldedRow(key, facts) for key, facts in result]


async def open_channels(
    session: AsyncSession, *, now: float, exclude: Sequence[str]
) -> list[str]:
    """Channels with a summary to post or a CSV to upload, due now."""
    result = await session.execute(
        select(_sum.c.channel)
        .where(_sum.c.status.in_(OPEN), _sum.c.next_attempt_at <= now)
        .distinct()
    )
    return [c for c in result.scalars() if c not in exclude]


async def claim_next(
    session: AsyncSession, *, channel: str, claimant: str, now: float, lease: float
) -> StormSummary | None:
    """Claim the channel's oldest due summary to post, else its oldest due
    CSV to upload (a failing upload does not hold back the next summary);
    returned as it was before the claim (an earlier claimant's mark says
    "look in Slack first")."""
    row = (
        await session.execute(
            select(StormSummary)
            .where(
                col(StormSummary.channel) == channel,
                col(StormSummary.status).in_(OPEN),
                col(StormSummary.next_attempt_at) <= now,
                or_(
                    col(StormSummary.claimed_until).is_(None),
                    col(StormSummary.claimed_until) < now,
                ),
            )
            .order_by(case((col(StormSummary.status) == CLAIMED, 0), else_=1))
            .order_by(col(StormSummary.id))
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    claimed = await session.execute(
        update(_sum)
        .where(
            _sum.c.id == row.id,
            _sum.c.status == row.status,
            or_(_sum.c.claimed_until.is_(None), _sum.c.claimed_until < now),
        )
        .values(claimed_by=claimant, claimed_until=now + lease)
    )
    if rowcount(claimed) != 1:
        return None  # another instance took it first
    # The ORM copy is as read; the caller reads its earlier claimant from it.
    session.expunge(row)
    return row


def _held(summary_id: int, claimant: str) -> Any:
    """Fencing: the summary is still `claimant`'s. A write under this
    condition that matches no row leaves the summary to whoever took it over
    (who looks in Slack before posting again). A lease that ran out without
    a takeover still names its claimant, and nobody else works on the row:
    checking the name alone also keeps fencing right across clock skew."""
    return and_(_sum.c.id == summary_id, _sum.c.claimed_by == claimant)


async def renew_claim(
    session: AsyncSession, *, summary_id: int, claimant: str, now: float, lease: float
) -> bool:
    """Extend `claimant`'s claim to `now + lease`; False if another process
    took it over: the claimant must then leave it alone."""
    renewed = await session.execute(
        update(_sum)
        .where(_held(summary_id, claimant), _sum.c.status.in_(OPEN))
        .values(claimed_until=now + lease)
    )
    return rowcount(renewed) == 1


async def mark_posted(
    session: AsyncSession, *, summary_id: int, ts: str, claimant: str, now: float
) -> bool:
    """The summary is in Slack: its alerts are sent, under its ts. False
    (nothing written) if `claimant` no longer holds the summary."""
    posted = await session.execute(
        update(_sum)
        .where(_held(summary_id, claimant), _sum.c.status == CLAIMED)
        .values(
            status=POSTED,
            ts=ts,
            attempts=0,
            next_attempt_at=now,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
        )
    )
    if rowcount(posted) != 1:
        return False
    await session.execute(
        update(_out)
        .where(_out.c.storm_id == summary_id, _out.c.status == FOLDED)
        .values(status=SENT, ts=ts, sent_at=now)
    )
    return True


async def mark_done(
    session: AsyncSession, *, summary_id: int, file_id: str, claimant: str
) -> bool:
    """The CSV is in the summary's thread (False: not `claimant`'s any more)."""
    done = await session.execute(
        update(_sum)
        .where(_held(summary_id, claimant), _sum.c.status == POSTED)
        .values(
            status=DONE,
            file_id=file_id,
            claimed_by=None,
            claimed_until=None,
            upload_uncertain=False,
            last_error=None,
        )
    )
    return rowcount(done) == 1


async def mark_failed(
    session: AsyncSession,
    *,
    summary_id: int,
    error: str,
    retry_at: float,
    claimant: str,
    upload_uncertain: bool = False,
) -> bool:
    """An attempt failed (False: not `claimant`'s any more, nothing written)."""
    values: dict[str, Any] = {
        "attempts": _sum.c.attempts + 1,
        "next_attempt_at": retry_at,
        "last_error": error[:2000],
        "claimed_by": None,
        "claimed_until": None,
    }
    if upload_uncertain:
        values["upload_uncertain"] = True
    failed = await session.execute(
        update(_sum).where(_held(summary_id, claimant)).values(values)
    )
    return rowcount(failed) == 1


async def defer(
    session: AsyncSession, *, summary_id: int, until: float, claimant: str
) -> bool:
    """Wait without counting an attempt (rate limited); False: not
    `claimant`'s any more, nothing written."""
    deferred = await session.execute(
        update(_sum)
        .where(_held(summary_id, claimant))
        .values(next_attempt_at=until, claimed_by=None, claimed_until=None)
    )
    return rowcount(deferred) == 1


async def release_claims(session: AsyncSession, *, claimant: str | None = None) -> int:
    """As `outbox.release_claims`: the lease ends, the claimant stays named,
    so whoever goes on looks in Slack before posting or uploading again."""
    stmt = update(_sum).where(_sum.c.claimed_by.is_not(None))
    if claimant is not None:
        stmt = stmt.where(_sum.c.claimed_by == claimant)
    return rowcount(await session.execute(stmt.values(claimed_until=0.0)))
