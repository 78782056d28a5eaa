"""Deadline reminders: one per dispute and threshold, in the card's thread."""

from __future__ import annotations

from dataclasses import dataclass

from bot.blocks import disputes as blocks
from bot.deps import Deps
from bot.evidence_fields import missing
from storage import dispute_reminders as store
from storage import outbox
from storage.dispute_reminders import PAST_DUE, threshold_label

# Reminders queued per transaction. Slack takes about one message a second per
# channel, so a bigger batch would not reach anyone sooner; it would only hold
# the database (SQLite's single write lock, which webhook intake waits for)
# for longer.
REMINDERS_PER_SCAN = 1000


@dataclass(frozen=True)
class Scanned:
    queued: int  # reminders this scan queued
    full: bool  # a whole batch was due, so more may be


async def scan_reminders(deps: Deps, *, limit: int = REMINDERS_PER_SCAN) -> Scanned:
    """Queue the due reminders of up to `limit` disputes, nearest deadline
    first, in one transaction. A constant number of queries whatever the number
    of disputes: candidates, one insert of reminder rows, one of messages."""
    settings = deps.settings
    hours = settings.DISPUTE_NAG_HOURS
    last = threshold_label(min(hours))
    messages: list[outbox.Queued] = []
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        candidates = await store.reminder_candidates(
            session, now=now, hours=hours, limit=limit
        )
        if not candidates:
            return Scanned(0, full=False)
        inserted = await store.record_reminders(
            session, now=now, hours=hours, limit=limit
        )
        for c in candidates:
            if (c.id, c.stage) not in inserted:
                continue  # another instance sent it
            text, reminder = blocks.reminder(
                c, missing=missing(c.reason, c.evidence), now=now
            )
            messages.append(
                outbox.Queued(
                    key=f"dispute-reminder:{c.id}:{c.stage}",
                    channel=c.alert_channel or settings.channel_for("disputes"),
                    text=text,
                    blocks=reminder,
                    thread_key=c.alert_key,
                    reply_broadcast=c.alert_key is not None
                    and c.stage in (last, PAST_DUE),
                )
            )
        await outbox.enqueue_many(session, messages=messages, now=now)
    if messages:
        deps.wake.outbox.set()
    return Scanned(len(messages), full=len(candidates) >= limit)


async def send_due_reminders(deps: Deps, *, batch: int = REMINDERS_PER_SCAN) -> int:
    """Scan batch after batch until nothing is due; returns reminders queued."""
    total = 0
    while True:
        scanned = await scan_reminders(deps, limit=batch)
        total += scanned.queued
        if not scanned.full:
            return total
