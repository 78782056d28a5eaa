"""Alerts for payouts."""

from __future__ import annotations

from typing import Any

from bot import stripe_shapes as shapes
from bot.blocks import Place, clip, date_token, escape
from bot.blocks.alerts.draft import (
    Draft,
    add_common_details,
    amount_text,
    as_words,
    failure_text,
)
from bot.stripe_shapes import as_int, as_str


def draft_payout(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], where: Place, now: float
) -> Draft:
    payout_id = as_str(obj.get("id")) or "unknown payout"
    if event_type == "payout.failed":
        draft = Draft(":x:", "Payout failed", "payout", payout_id, amount_text(obj))
        draft.detail(
            "Why it failed",
            failure_text(obj.get("failure_message"), obj.get("failure_code")),
        )
    elif event_type == "payout.paid":
        draft = Draft(":bank:", "Payout paid", "payout", payout_id, amount_text(obj))
    else:
        draft = Draft(":bank:", "Payout created", "payout", payout_id, amount_text(obj))
    draft.fact("Status", as_words(obj.get("status")))
    arrival = as_int(obj.get("arrival_date"))
    if arrival:
        draft.fact("Arrival", date_token(arrival, "{date_short_pretty}"))
    # An ID, the expanded account, or (payouts shaped as transfers, before
    # 2017-04-06) the account in `bank_account`.
    destination = shapes.payout_destination(obj)
    shown = [f"`{escape(destination.id)}`"] if destination.id else []
    if destination.label:
        shown.append(clip(destination.label, 100))
    draft.fact("Destination", " ".join(shown) if shown else None)
    draft.fact("Method", as_words(obj.get("method")))
    descriptor = as_str(obj.get("statement_descriptor"))
    draft.fact("Statement descriptor", clip(descriptor, 200) if descriptor else None)
    add_common_details(draft, obj)
    return draft
