"""The dispute's card in Slack and its thread: queued in the outbox, in the
same transaction as the change they show."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks import disputes as blocks
from bot.blocks.alert_rules import with_mention
from bot.config import Settings
from bot.evidence_fields import checklist
from storage import audit, outbox
from storage import disputes as store
from storage.models import Dispute


def render_card(
    row: Dispute,
    *,
    now: float,
    event_id: str | None = None,
    key_live: bool | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The card; `key_live` (the bot key's mode) keeps buttons off a dispute
    the key cannot act on."""
    return blocks.dispute_card(
        row,
        checklist=checklist(row.reason, row.stripe_evidence),
        now=now,
        event_id=event_id,
        key_live=key_live,
    )


def _channel(settings: Settings, row: Dispute) -> str:
    return row.alert_channel or settings.channel_for("disputes")


async def queue_card(
    session: AsyncSession,
    settings: Settings,
    row: Dispute,
    *,
    key: str,
    now: float,
    event_id: str | None = None,
    channel: str | None = None,
    mention: tuple[str, ...] = (),
) -> Dispute | None:
    """Queue the dispute's card under `key` (as the alert of `event_id`, if
    any), unless it has a card already; None then. `channel` and `mention`
    come from an alert rule; the mention is on the card as posted (edits
    redraw the card without it: the ping has been sent).

    The card is claimed on the row first (a conditional UPDATE), so an event
    and a reconcile that find the same new dispute, here or on another
    instance, post one card between them.
    """
    channel = channel or _channel(settings, row)
    if not await store.set_alert(
        session, dispute_id=row.id, key=key, channel=channel, event_id=event_id
    ):
        return None
    fresh = await store.get(session, dispute_id=row.id)
    assert fresh is not None
    text, card = with_mention(
        *render_card(fresh, now=now, event_id=event_id, key_live=settings.stripe_live),
        mention,
    )
    await outbox.enqueue(
        session, key=key, channel=channel, text=text, blocks=card, now=now
    )
    return fresh


async def queue_card_edit(
    session: AsyncSession,
    settings: Settings,
    row: Dispute,
    *,
    now: float,
    skip_key: str | None = None,
) -> None:
    """Queue an edit of the dispute's alert so it shows the row as it is now."""
    if row.alert_key is None or row.alert_key == skip_key:
        return
    text, card = render_card(
        row, now=now, event_id=row.alert_event, key_live=settings.stripe_live
    )
    await outbox.enqueue_update(
        session,
        # Each edit is a new version; edits go out in the order queued.
        key=f"{row.alert_key}:edit:{uuid.uuid4().hex}",
        target_key=row.alert_key,
        text=text,
        blocks=card,
        now=now,
    )


async def queue_thread_reply(
    session: AsyncSession,
    settings: Settings,
    row: Dispute,
    *,
    key: str,
    text: str,
    now: float,
    broadcast: bool = False,
    layout: list[dict[str, Any]] | None = None,
) -> None:
    """A reply in the dispute's alert thread (in the channel if it has none);
    `layout` gives its blocks, else the text is the one block."""
    await outbox.enqueue(
        session,
        key=key,
        channel=_channel(settings, row),
        text=text,
        blocks=layout if layout is not None else blocks.note_blocks(text),
        now=now,
        thread_key=row.alert_key,
        reply_broadcast=broadcast and row.alert_key is not None,
    )


async def record_and_show(
    session: AsyncSession,
    settings: Settings,
    row: Dispute,
    *,
    actor: str,
    action: str,
    note_key: str,
    note_text: str,
    now: float,
    details: dict[str, Any] | None = None,
    amount: int | None = None,
    currency: str | None = None,
) -> None:
    """What someone did to the dispute: in the audit log, on its card, and as a
    reply in its thread, all in the caller's transaction."""
    await audit.record(
        session,
        actor=actor,
        action=action,
        subject=row.id,
        now=now,
        amount=amount,
        currency=currency,
        details=details,
    )
    await queue_card_edit(session, settings, row, now=now)
    await queue_thread_reply(
        session, settings, row, key=note_key, text=note_text, now=now
    )
