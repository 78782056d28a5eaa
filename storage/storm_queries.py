"""The statements of storm summaries (storage.storms), built once.

What a digest could carry is a plain post with a digest line, not a thread
reply (outbox_sender's digest rule); that is what a storm folds. Everything
else (cards and requests with buttons, edits, replies) goes out as itself.
"""

from __future__ import annotations

from sqlalchemy import (
    and_,
    bindparam,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
    update,
)

from storage.models import OutboxMessage, StormSummary
from storage.outbox import PENDING, SENT

FOLDED = "folded"
BUILDING = "building"  # alerts being folded, words not written yet

out = OutboxMessage.__table__  # type: ignore[attr-defined]
summary = StormSummary.__table__  # type: ignore[attr-defined]

FOLDABLE = and_(
    out.c.kind == "post",
    out.c.digest_line.is_not(None),
    out.c.thread_key.is_(None),
)
NOT_FOLDABLE = not_(FOLDABLE)
_DUE = and_(
    out.c.status == PENDING,
    out.c.channel == bindparam("in_channel"),
    out.c.next_attempt_at <= bindparam("now"),
    or_(out.c.claimed_until.is_(None), out.c.claimed_until < bindparam("now")),
)
# The channel's waiting rows as a range of ix_outbox_due (status, channel,
# id), read in that index's order. Written as row-value bounds, not two
# equalities: with equalities PostgreSQL reduces the order to "id" and may
# walk the primary key through every sent row, filtering (it guesses that
# pending rows are spread evenly over the ids; they are the newest). The
# range can only be served, in order, by ix_outbox_due.
_KEY = tuple_(out.c.status, out.c.channel)
_THIS = tuple_(literal(PENDING), bindparam("in_channel"))
_IN_INDEX_ORDER = (out.c.status, out.c.channel, out.c.id)
_DUE_RANGE = and_(
    _KEY >= _THIS,
    _KEY <= _THIS,
    out.c.next_attempt_at <= bindparam("now"),
    or_(out.c.claimed_until.is_(None), out.c.claimed_until < bindparam("now")),
)
# The first rows of the channel's range of ix_outbox_due, one flag each:
# bounded by `limit`, whatever the backlog.
WAITING = (
    select(case((FOLDABLE, 1), else_=0).label("foldable"), out.c.created_at)
    .where(_DUE_RANGE)
    .order_by(*_IN_INDEX_ORDER)
    .limit(bindparam("limit"))
)
# The next slice of a fold: due foldable ids after `after`, up to `bound`
# (the newest row when the fold began: later ones join the next summary),
# as one range of ix_outbox_due, as above: an id range alone may be walked
# on the primary key instead, through every other channel's rows.
_entry = tuple_(out.c.status, out.c.channel, out.c.id)
FOLDABLE_IDS = (
    select(out.c.id)
    .where(
        _entry > tuple_(literal(PENDING), bindparam("in_channel"), bindparam("after")),
        _entry <= tuple_(literal(PENDING), bindparam("in_channel"), bindparam("bound")),
        out.c.next_attempt_at <= bindparam("now"),
        or_(out.c.claimed_until.is_(None), out.c.claimed_until < bindparam("now")),
        FOLDABLE,
    )
    .order_by(*_IN_INDEX_ORDER)
    .limit(bindparam("limit"))
)
NEWEST_ID = select(func.max(out.c.id))
# By id range, re-checked per row: a row another sender took meanwhile
# stays out.
FOLD = (
    update(out)
    .where(_DUE, FOLDABLE, out.c.id.between(bindparam("first"), bindparam("last")))
    .values(status=FOLDED, storm_id=bindparam("storm"))
)
# A summary's rows a page at a time, in the order they were queued (by
# ix_outbox_storm (storm_id, id)).
ROWS_OF = (
    select(out.c.id, out.c.key, out.c.facts)
    .where(out.c.storm_id == bindparam("storm"), out.c.id > bindparam("after"))
    .order_by(out.c.id)
    .limit(bindparam("limit"))
)
# A posted summary's alerts become sent, a slice at a time (by
# ix_outbox_storm, from where the last slice ended).
FOLDED_IDS = (
    select(out.c.id)
    .where(
        out.c.storm_id == bindparam("storm"),
        out.c.id > bindparam("after"),
        out.c.status == FOLDED,
    )
    .order_by(out.c.id)
    .limit(bindparam("limit"))
)
SEND_FOLDED = (
    update(out)
    .where(
        out.c.storm_id == bindparam("storm"),
        out.c.id.between(bindparam("first"), bindparam("last")),
        out.c.status == FOLDED,
    )
    .values(status=SENT, ts=bindparam("ts"), sent_at=bindparam("now"))
)
# Top-level posts that are never folded (they carry buttons), waiting in the
# channel: named by the summary.
UNFOLDED = (
    select(out.c.key, out.c.text)
    .where(
        out.c.status == PENDING,
        out.c.channel == bindparam("in_channel"),
        out.c.kind == "post",
        out.c.thread_key.is_(None),
        out.c.digest_line.is_(None),
    )
    .order_by(out.c.id)
    .limit(bindparam("limit"))
)
