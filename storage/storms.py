"""Storm summaries: a channel's waiting alerts folded into one message.

A fold is short transactions, never one long one (on SQLite that would hold
webhook intake back): a `storm_summary` row "building", claimed like a post,
then alerts moved from "pending" to "folded" a slice at a time, each slice
fenced on the claim; the words last, with the state "claimed" (to post). A
folder that dies halfway leaves a building summary whose lease runs out:
its next claimant writes the words of what was folded. What is queued after
the fold began waits for the next summary. Folded alerts become "sent" (with
the summary's ts) once the summary is posted, a slice at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import storm_queries as q
from storage.common import rowcount
from storage.models import StormSummary
from storage.storm_queries import BUILDING, FOLDABLE, FOLDED, NOT_FOLDABLE
from storage.storm_queries import summary as _sum

__all__ = ["BUILDING", "FOLDABLE", "FOLDED", "NOT_FOLDABLE"]

CLAIMED = "claimed"  # alerts folded and words written, summary not posted
POSTED = "posted"  # summary posted, its CSV not uploaded
DONE = "done"
OPEN = (BUILDING, CLAIMED, POSTED)
# Alerts marked sent per transaction once their summary is posted.
SEND_SLICE = 100


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
            q.WAITING, {"in_channel": channel, "now": now, "limit": limit}
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
    latest = select(func.max(_sum.c.created_at)).where(_sum.c.channel == channel)
    return await session.scalar(latest)


@dataclass(frozen=True, slots=True)
class FoldedRow:
    id: int
    key: str
    facts: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Fold:
    """A fold under way: its summary, and the newest alert it may take."""

    summary_id: int
    key: str
    bound: int


async def begin_fold(
    session: AsyncSession, *, channel: str, claimant: str, now: float, lease: float
) -> Fold:
    """A new summary in the channel, building and claimed by `claimant`."""
    summary = StormSummary(
        key=f"storm:{uuid.uuid4().hex}",
        channel=channel,
        status=BUILDING,
        text="",
        created_at=now,
        claimed_by=claimant,
        claimed_until=now + lease,
    )
    session.add(summary)
    await session.flush()
    assert summary.id is not None
    bound = await session.scalar(q.NEWEST_ID)
    return Fold(summary.id, summary.key, bound or 0)


def _building(summary_id: int, claimant: str) -> Any:
    return and_held(summary_id, claimant, _sum.c.status == BUILDING)


async def fold_slice(
    session: AsyncSession,
    *,
    fold: Fold,
    channel: str,
    claimant: str,
    now: float,
    lease: float,
    after: int,
    limit: int,
) -> tuple[int, int] | None:
    """Fold the channel's next due foldable alerts (at most `limit`, ids
    after `after`) into the building summary, renewing the claim; returns
    (how many, the last id looked at), or None when the summary is no longer
    `claimant`'s (nothing folded: its new claimant writes its words)."""
    renewed = await session.execute(
        update(_sum)
        .where(_building(fold.summary_id, claimant))
        .values(claimed_until=now + lease)
    )
    if rowcount(renewed) != 1:
        return None
    params = {"in_channel": channel, "now": now, "limit": limit}
    ids = (
        (
            await session.execute(
                q.FOLDABLE_IDS, params | {"after": after, "bound": fold.bound}
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return 0, after
    # By id range, re-checked per row: a row another sender took meanwhile
    # stays out.
    folded = await session.execute(
        q.FOLD,
        {"in_channel": channel, "now": now, "first": ids[0], "last": ids[-1]}
        | {"storm": fold.summary_id},
    )
    return rowcount(folded), ids[-1]


async def rows_page(
    session: AsyncSession, *, summary_id: int, after: int, limit: int
) -> list[FoldedRow]:
    """The next alerts (ids after `after`) a summary covers, in the order
    they were queued."""
    result = await session.execute(
        q.ROWS_OF, {"storm": summary_id, "after": after, "limit": limit}
    )
    return [FoldedRow(id_, key, facts) for id_, key, facts in result]


async def unfolded(
    session: AsyncSession, *, channel: str, limit: int
) -> list[tuple[str, str]]:
    """(key, text) of the channel's waiting messages that are never folded."""
    params = {"in_channel": channel, "limit": limit}
    return [(r[0], r[1]) for r in await session.execute(q.UNFOLDED, params)]


async def finish_building(
    session: AsyncSession,
    *,
    summary_id: int,
    claimant: str,
    text: str,
    blocks: list[dict[str, Any]],
    events: int,
) -> bool:
    """The summary's words: it is ready to post (claimed by nobody). False
    (nothing written) if `claimant` no longer holds it."""
    done = await session.execute(
        update(_sum)
        .where(_building(summary_id, claimant))
        .values(
            text=text,
            blocks=blocks,
            events=events,
            status=CLAIMED,
            claimed_by=None,
            claimed_until=None,
        )
    )
    return rowcount(done) == 1


async def drop_empty(session: AsyncSession, *, summary_id: int, claimant: str) -> None:
    """A building summary that folded nothing (another sender sent its
    alerts first) is deleted."""
    await session.execute(
        delete(StormSummary).where(
            _building(summary_id, claimant),
            ~exists().where(q.out.c.storm_id == summary_id),
        )
    )


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
    """Claim the channel's oldest summary whose folder died before its
    words, else its oldest due summary to post, else its oldest due CSV to
    upload (a failing upload does not hold back the next summary);
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
            .order_by(
                case(
                    (col(StormSummary.status) == BUILDING, 0),
                    (col(StormSummary.status) == CLAIMED, 1),
                    else_=2,
                )
            )
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


def and_held(summary_id: int, claimant: str, *also: Any) -> Any:
    """Fencing: the summary is still `claimant`'s. A write under this
    condition that matches no row leaves the summary to whoever took it over
    (who looks in Slack before posting again). A lease that ran out without
    a takeover still names its claimant, and nobody else works on the row:
    checking the name alone also keeps fencing right across clock skew."""
    return and_(_sum.c.id == summary_id, _sum.c.claimed_by == claimant, *also)


async def renew_claim(
    session: AsyncSession, *, summary_id: int, claimant: str, now: float, lease: float
) -> bool:
    """Extend `claimant`'s claim to `now + lease`; False if another process
    took it over: the claimant must then leave it alone."""
    renewed = await session.execute(
        update(_sum)
        .where(and_held(summary_id, claimant), _sum.c.status.in_(OPEN))
        .values(claimed_until=now + lease)
    )
    return rowcount(renewed) == 1


async def mark_posted(
    session: AsyncSession, *, summary_id: int, ts: str, claimant: str, now: float
) -> bool:
    """The summary is in Slack, under `ts`; the first `SEND_SLICE` of its
    alerts become sent, `send_folded` sends the rest. False (nothing
    written) if `claimant` no longer holds the summary."""
    posted = await session.execute(
        update(_sum)
        .where(and_held(summary_id, claimant), _sum.c.status == CLAIMED)
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
    await send_folded(session, summary_id=summary_id, ts=ts, now=now, after=0)
    return True


async def send_folded(
    session: AsyncSession, *, summary_id: int, ts: str, now: float, after: int
) -> int | None:
    """A posted summary's next folded alerts (ids after `after`, at most
    SEND_SLICE) become sent under its ts; the last id, or None: all sent."""
    params = {"storm": summary_id, "after": after, "limit": SEND_SLICE}
    ids = (await session.execute(q.FOLDED_IDS, params)).scalars().all()
    if not ids:
        return None
    await session.execute(
        q.SEND_FOLDED,
        {"storm": summary_id, "first": ids[0], "last": ids[-1], "ts": ts, "now": now},
    )
    return int(ids[-1])


async def mark_done(
    session: AsyncSession, *, summary_id: int, file_id: str, claimant: str
) -> bool:
    """The CSV is in the summary's thread (False: not `claimant`'s any more)."""
    done = await session.execute(
        update(_sum)
        .where(and_held(summary_id, claimant), _sum.c.status == POSTED)
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
        update(_sum).where(and_held(summary_id, claimant)).values(values)
    )
    return rowcount(failed) == 1


async def defer(
    session: AsyncSession, *, summary_id: int, until: float, claimant: str
) -> bool:
    """Wait without counting an attempt (rate limited); False: not
    `claimant`'s any more, nothing written."""
    deferred = await session.execute(
        update(_sum)
        .where(and_held(summary_id, claimant))
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
