"""Dispute rows: the newest Stripe object wins; claims are conditional UPDATEs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.common import insert_ignore, rowcount
from storage.dispute_status import ANSWERABLE, open_to_answer
from storage.models import Dispute


@dataclass(frozen=True, order=True)
class Version:
    """Where a dispute object comes from: (event.created, event.id).

    A snapshot read from the API "now" is (now, ""): it beats every event
    created before it. Within one second the dispute further along wins
    (`_further_along`); at the same point, the greater event ID.
    """

    created: int
    event_id: str = ""


# Columns an object without an expanded charge says nothing about: an update
# leaves them as they are instead of clearing them. Likewise the connected
# account, which only the event (or the lookup) names, not the object.
_KEEP_WHEN_NONE = (
    "customer_id",
    "customer_name",
    "customer_email",
    "account",
    "account_name",
)


# How far a dispute has come. It only moves forward (open, under review,
# closed) and its submission count only grows, so between two objects stamped
# with the same second the one further along is the newer; the event ID, random,
# decides only between objects at the same point.
STAGES: dict[str, int] = {
    "warning_needs_response": 0,
    "needs_response": 0,
    "warning_under_review": 1,
    "under_review": 1,
    "warning_closed": 2,
    "won": 2,
    "lost": 2,
    "charge_refunded": 2,
    "prevented": 2,
}
stored_stage = case(STAGES, value=col(Dispute.status), else_=0)


def _further_along(values: dict[str, Any], version: Version) -> ColumnElement[bool]:
    """The stored row is behind the incoming object of the same second."""
    stage = STAGES.get(str(values.get("status")), 0)
    submitted = int(values.get("submission_count") or 0)
    return or_(
        stored_stage < stage,
        and_(
            stored_stage == stage,
            or_(
                col(Dispute.submission_count) < submitted,
                and_(
                    col(Dispute.submission_count) == submitted,
                    col(Dispute.version_event) < version.event_id,
                ),
            ),
        ),
    )


async def upsert(
    session: AsyncSession, *, values: dict[str, Any], version: Version, now: float
) -> tuple[bool, bool]:
    """Take `values` unless the row holds a newer version: (created, changed)."""
    versioned = {
        **values,
        "version_created": version.created,
        "version_event": version.event_id,
        "updated_at": now,
    }
    # Core inserts skip the model's default factories: give the JSON columns theirs.
    fresh = {"staged_evidence": {}, "evidence_files": {}, **versioned}
    if await insert_ignore(session, Dispute, fresh):
        return True, True
    changes = {
        k: v
        for k, v in versioned.items()
        if k != "id" and not (k in _KEEP_WHEN_NONE and v is None)
    }
    result = await session.execute(
        update(Dispute)
        .where(
            col(Dispute.id) == values["id"],
            or_(
                col(Dispute.version_created) < version.created,
                and_(
                    col(Dispute.version_created) == version.created,
                    _further_along(values, version),
                ),
            ),
        )
        .values(**changes)
    )
    return False, rowcount(result) == 1


async def get(session: AsyncSession, *, dispute_id: str) -> Dispute | None:
    """The row as the database has it now (never a stale identity-map copy)."""
    result = await session.execute(
        select(Dispute)
        .where(col(Dispute.id) == dispute_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def answerable(session: AsyncSession, *, limit: int) -> tuple[list[Dispute], int]:
    """Disputes waiting for an answer, soonest deadline first; and how many."""
    where = col(Dispute.status).in_(sorted(ANSWERABLE))
    total = await session.scalar(select(func.count()).where(where))
    rows = await session.execute(
        select(Dispute)
        .where(where)
        # No deadline (the bank allows no answer) sorts last on both databases.
        .order_by(
            col(Dispute.due_by).is_(None),
            col(Dispute.due_by),
            col(Dispute.created),
        )
        .limit(limit)
    )
    return list(rows.scalars().all()), int(total or 0)


async def count_in(session: AsyncSession, *, statuses: Collection[str]) -> int:
    total = await session.scalar(
        select(func.count()).where(col(Dispute.status).in_(list(statuses)))
    )
    return int(total or 0)


async def set_alert(
    session: AsyncSession,
    *,
    dispute_id: str,
    key: str,
    channel: str,
    event_id: str | None,
) -> bool:
    """Make `key` the dispute's alert, unless it has one already."""
    result = await session.execute(
        update(Dispute)
        .where(col(Dispute.id) == dispute_id, col(Dispute.alert_key).is_(None))
        .values(alert_key=key, alert_channel=channel, alert_event=event_id)
    )
    return rowcount(result) == 1


async def set_customer(
    session: AsyncSession,
    *,
    dispute_id: str,
    customer_id: str | None,
    name: str | None,
    email: str | None,
) -> bool:
    """Fill in who paid, from a charge read from Stripe; True if that changed."""
    values = {
        "customer_id": customer_id,
        "customer_name": name,
        "customer_email": email,
    }
    values = {k: v for k, v in values.items() if v is not None}
    await session.execute(
        update(Dispute)
        .where(col(Dispute.id) == dispute_id)
        .values(customer_checked=True)
    )
    if not values:
        return False
    result = await session.execute(
        update(Dispute)
        .where(
            col(Dispute.id) == dispute_id,
            or_(*(getattr(Dispute, k).is_distinct_from(v) for k, v in values.items())),
        )
        .values(**values)
    )
    return rowcount(result) == 1


async def customers_to_check(session: AsyncSession, *, limit: int) -> list[Dispute]:
    """Disputes whose charge we have not read yet, newest first."""
    result = await session.execute(
        select(Dispute)
        .where(
            col(Dispute.customer_checked).is_(False),
            col(Dispute.charge_id).is_not(None),
        )
        .order_by(col(Dispute.created).desc())
        .limit(limit)
    )
    return list(result.scalars().all())


async def take(
    session: AsyncSession, *, dispute_id: str, user_id: str, now: float
) -> tuple[bool, str | None]:
    """Make `user_id` the owner: (taken, previous owner). Not taken when the
    dispute is no longer open to an answer."""
    previous = await session.scalar(
        select(col(Dispute.taken_by)).where(col(Dispute.id) == dispute_id)
    )
    result = await session.execute(
        update(Dispute)
        .where(col(Dispute.id) == dispute_id, *open_to_answer())
        .values(taken_by=user_id, updated_at=now)
    )
    return rowcount(result) == 1, previous


async def claim_submission(
    session: AsyncSession, *, dispute_id: str, user_id: str, now: float
) -> bool:
    """One submission per dispute: only the first of racing clicks gets True."""
    result = await session.execute(
        update(Dispute)
        .where(col(Dispute.id) == dispute_id, *open_to_answer())
        .where(col(Dispute.submission_count) == 0)
        .values(submitted_by=user_id, submitted_at=now, updated_at=now)
    )
    return rowcount(result) == 1


async def release_submission(
    session: AsyncSession, *, dispute_id: str, user_id: str, now: float
) -> None:
    """Stripe said no: the claim goes, so someone can try again."""
    await session.execute(
        update(Dispute)
        .where(col(Dispute.id) == dispute_id, col(Dispute.submitted_by) == user_id)
        .values(submitted_by=None, submitted_at=None, updated_at=now)
    )


async def claim_acceptance(
    session: AsyncSession, *, dispute_id: str, user_id: str, now: float
) -> bool:
    result = await session.execute(
        update(Dispute)
        .where(col(Dispute.id) == dispute_id, *open_to_answer())
        .values(accepted_by=user_id, accepted_at=now, updated_at=now)
    )
    return rowcount(result) == 1


async def release_acceptance(
    session: AsyncSession, *, dispute_id: str, user_id: str, now: float
) -> None:
    await session.execute(
        update(Dispute)
        .where(col(Dispute.id) == dispute_id, col(Dispute.accepted_by) == user_id)
        .values(accepted_by=None, accepted_at=None, updated_at=now)
    )


async def save_evidence(
    session: AsyncSession,
    *,
    dispute_id: str,
    staged: dict[str, Any],
    files: dict[str, Any],
    now: float,
) -> None:
    """Record what was staged on Stripe through the bot, and bump the revision."""
    row = await get(session, dispute_id=dispute_id)
    if row is None:
        raise LookupError(dispute_id)
    await session.execute(
        update(Dispute)
        .where(col(Dispute.id) == dispute_id)
        .values(
            staged_evidence={**row.staged_evidence, **staged},
            evidence_files={**row.evidence_files, **files},
            evidence_revision=col(Dispute.evidence_revision) + 1,
            updated_at=now,
        )
    )


async def unfinished_calls(session: AsyncSession, *, before: float) -> list[Dispute]:
    """Claimed submissions and acceptances whose Stripe call may not have gone out."""
    result = await session.execute(
        select(Dispute).where(
            col(Dispute.status).in_(sorted(ANSWERABLE)),
            or_(
                and_(
                    col(Dispute.submitted_by).is_not(None),
                    col(Dispute.submission_count) == 0,
                    col(Dispute.submitted_at) < before,
                ),
                and_(
                    col(Dispute.accepted_by).is_not(None),
                    col(Dispute.accepted_at) < before,
                ),
            ),
        )
    )
    return list(result.scalars().all())
