"""Alerts for refunds."""

from __future__ import annotations

from typing import Any

from bot import stripe_shapes as shapes
from bot.blocks import Place, escape
from bot.blocks.alerts.draft import (
    Draft,
    add_changes,
    add_common_details,
    add_people,
    amount_text,
    as_words,
)
from bot.blocks.refund_words import REFUND_FAILURES
from bot.stripe_shapes import as_dict, as_str


def draft_refund(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], where: Place, now: float
) -> Draft:
    refund_id = as_str(obj.get("id")) or "unknown refund"
    status = as_str(obj.get("status"))
    if event_type == "refund.failed":
        draft = Draft(":x:", "Refund failed", "refund", refund_id, amount_text(obj))
        reason = as_str(obj.get("failure_reason"))
        if reason:
            draft.detail(
                "Why it failed",
                f"{escape(REFUND_FAILURES.get(reason, reason.replace('_', ' ')))} "
                f"(`{escape(reason)}`)",
            )
    elif event_type == "refund.created":
        draft = Draft(
            ":leftwards_arrow_with_hook:", "Refund created", "refund", refund_id
        )
        draft.amount = amount_text(obj)
    else:
        draft = Draft(
            ":pencil2:", "Refund updated", "refund", refund_id, amount_text(obj)
        )
        if status == "failed":
            draft.title = "Refund updated: failed"
            draft.emoji = ":x:"
        add_changes(draft, obj, shapes.event_previous_attributes(ev))
    charge = obj.get("charge")
    draft.name_payment(obj)
    draft.fact("Status", as_words(status))
    draft.fact("Reason", as_words(obj.get("reason")))
    arn = as_str(
        as_dict(as_dict(obj.get("destination_details")).get("card")).get("reference")
    )
    draft.fact("ARN", f"`{escape(arn)}`" if arn else None)
    if isinstance(charge, dict):
        add_people(draft, charge, where)
    add_common_details(draft, obj)
    return draft
