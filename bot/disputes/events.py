"""Dispute events and API reads applied to rows, and the card they post or edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.disputes.cards import queue_card, queue_card_edit
from bot.disputes.state import Applied, apply_object
from bot.stripe_shapes import as_dict, event_account
from storage import disputes as store
from storage.dispute_status import CLOSED
from storage.disputes import Version


async def on_event(
    session: AsyncSession,
    settings: Settings,
    event: Mapping[str, Any],
    *,
    alert_key: str,
    now: float,
    channel: str | None = None,
    mention: tuple[str, ...] = (),
    account_name: str | None = None,
) -> Applied:
    """Apply a dispute event; post the card as this event's alert when the bot
    has no card for the dispute yet (in `channel`, if an alert rule names
    one, with its `mention`), else edit the card.

    A `created` that comes after reconcile (or an earlier event) posted the
    card adds no second card.
    """
    obj = as_dict(as_dict(event.get("data")).get("object"))
    event_id = str(event["id"])
    version = Version(int(event.get("created") or 0), event_id)
    applied = await apply_object(
        session,
        obj,
        version=version,
        now=now,
        account=event_account(event),
        account_name=account_name,
    )
    row = applied.row
    if row.alert_key is None:
        # Built from the row, so a late `created` still shows the newest state.
        posted = await queue_card(
            session,
            settings,
            row,
            key=alert_key,
            now=now,
            event_id=event_id,
            channel=channel,
            mention=mention,
        )
        if posted is not None:
            return Applied(posted, applied.created, applied.changed)
        # Another transaction's card won the claim: edit that one.
        fresh = await store.get(session, dispute_id=row.id)
        assert fresh is not None
        row = fresh
    if applied.changed:
        await queue_card_edit(session, settings, row, now=now, skip_key=alert_key)
    return Applied(row, applied.created, applied.changed)


async def on_snapshot(
    session: AsyncSession,
    settings: Settings,
    obj: Mapping[str, Any],
    *,
    version: Version,
    now: float,
    account: str | None = None,
    account_name: str | None = None,
) -> Applied:
    """Apply an object read from the API (from `account`, for Connect); a
    dispute never seen gets its alert."""
    applied = await apply_object(
        session,
        obj,
        version=version,
        now=now,
        account=account,
        account_name=account_name,
    )
    row = applied.row
    if applied.created and row.status not in CLOSED:
        # The card stands for the `created` event we missed: the alert rule
        # that event would have met gives its channel and mention.
        rule = settings.ALERT_RULES.take(
            {
                "type": "charge.dispute.created",
                "livemode": obj.get("livemode"),
                "data": {"object": dict(obj)},
            }
        )
        posted = await queue_card(
            session,
            settings,
            row,
            key=f"dispute:{row.id}",
            now=now,
            channel=rule.channel if rule else None,
            mention=rule.mention if rule else (),
        )
        row = posted or row
    elif applied.changed:
        await queue_card_edit(session, settings, row, now=now)
    return Applied(row, applied.created, applied.changed)
