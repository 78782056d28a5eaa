"""Deadline reminders: which disputes are due one, and which were sent.

One query finds the due disputes, one statement records their reminders; the
unique (dispute, threshold) key keeps racing instances to one reminder each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import NAG_CONDITION, Dispute, DisputeReminder

# The stage of a dispute whose deadline has passed.
PAST_DUE = "past_due"


@dataclass(frozen=True)
class ReminderCandidate:
    """A dispute with a reminder due: `stage` is "<hours>h" or "past_due"."""

    id: str
    amount: int
    currency: str
    reason: str
    status: str
    due_by: int
    taken_by: str | None
    evidence: dict[str, Any]
    alert_key: str | None
    alert_channel: str | None
    livemode: bool
    stage: str


def threshold_label(hours: int) -> str:
    return f"{hours}h"


def _stage(now: float, hours: Sequence[int]) -> ColumnElement[Any]:
    """The nearest threshold passed: past_due, else the smallest hours passed."""
    due = col(Dispute.due_by)
    whens: list[tuple[ColumnElement[bool], Any]] = [(due <= now, PAST_DUE)]
    whens += [(due <= now + h * 3600, threshold_label(h)) for h in sorted(hours)]
    return case(*whens, else_=None)


def _due_for_reminder(now: float, hours: Sequence[int]) -> list[ColumnElement[bool]]:
    stage = _stage(now, hours)
    reminded = exists().where(
        col(DisputeReminder.dispute_id) == col(Dispute.id),
        col(DisputeReminder.threshold) == stage,
    )
    return [
        # As text: ix_dispute_nag is partial on this condition, and the
        # planners use it only when the query says so in the same words.
        and_(text(NAG_CONDITION)),
        # None or 0: the bank allows no response, so there is nothing to nag about.
        col(Dispute.due_by).is_not(None),
        col(Dispute.due_by) > 0,
        col(Dispute.due_by) <= now + max(hours) * 3600,
        ~reminded,
    ]


def _due_ids(now: float, hours: Sequence[int], limit: int) -> Select[Any]:
    """The `limit` due disputes with the nearest deadlines."""
    return (
        select(col(Dispute.id))
        .where(*_due_for_reminder(now, hours))
        .order_by(col(Dispute.due_by), col(Dispute.id))
        .limit(limit)
    )


async def reminder_candidates(
    session: AsyncSession, *, now: float, hours: Sequence[int], limit: int
) -> list[ReminderCandidate]:
    """The disputes (nearest deadline first, at most `limit`) whose current
    stage has no reminder yet, in one query."""
    stage = _stage(now, hours).label("stage")
    result = await session.execute(
        select(
            col(Dispute.id),
            col(Dispute.amount),
            col(Dispute.currency),
            col(Dispute.reason),
            col(Dispute.status),
            col(Dispute.due_by),
            col(Dispute.taken_by),
            col(Dispute.stripe_evidence),
            col(Dispute.alert_key),
            col(Dispute.alert_channel),
            col(Dispute.livemode),
            stage,
        )
        .where(*_due_for_reminder(now, hours))
        .order_by(col(Dispute.due_by), col(Dispute.id))
        .limit(limit)
    )
    return [ReminderCandidate(*row) for row in result.all()]


async def record_reminders(
    session: AsyncSession, *, now: float, hours: Sequence[int], limit: int
) -> set[tuple[str, str]]:
    """Mark every passed threshold of the same due disputes as
    `reminder_candidates` as reminded, in one statement; returns the
    (dispute, threshold) rows this call inserted.

    The unique (dispute_id, threshold) key makes a racing instance insert
    nothing for rows this one took, so only one of them sends each reminder.
    """
    stages = union_all(
        select(literal(PAST_DUE).label("label"), literal(0).label("secs")),
        *(
            select(
                literal(threshold_label(h)).label("label"),
                literal(h * 3600).label("secs"),
            )
            for h in hours
        ),
    ).subquery("stages")
    passed = (
        select(col(Dispute.id), stages.c.label, literal(now))
        .join(stages, col(Dispute.due_by) <= now + stages.c.secs)
        .where(col(Dispute.id).in_(_due_ids(now, hours, limit)))
        # One lock order for every instance, so racing inserts cannot deadlock.
        .order_by(col(Dispute.id), stages.c.label)
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(DisputeReminder)
        .from_select(["dispute_id", "threshold", "sent_at"], passed)
        .on_conflict_do_nothing()
        .returning(col(DisputeReminder.dispute_id), col(DisputeReminder.threshold))
    )
    result = await session.execute(stmt)
    return {(str(r[0]), str(r[1])) for r in result.all()}


async def reminders_for(session: AsyncSession, *, dispute_id: str) -> list[str]:
    result = await session.execute(
        select(col(DisputeReminder.threshold))
        .where(col(DisputeReminder.dispute_id) == dispute_id)
        .order_by(col(DisputeReminder.id))
    )
    return [str(t) for t in result.scalars().all()]
