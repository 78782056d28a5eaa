"""Alerts for early fraud warnings and disputes."""

from __future__ import annotations

from typing import Any

from bot import stripe_shapes as shapes
from bot.blocks import Place, date_token, escape, time_left
from bot.blocks.alerts.draft import (
    Draft,
    add_changes,
    add_common_details,
    add_people,
    amount_text,
    as_words,
)
from bot.stripe_shapes import as_dict, as_str

# `charge_refunded`: closed because the charge was refunded (older versions).
_CLOSED_DISPUTE_STATUSES = shapes.DISPUTE_CLOSED | {"charge_refunded"}


def draft_early_fraud_warning(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], where: Place, now: float
) -> Draft:
    charge = obj.get("charge")
    draft = Draft(
        ":rotating_light:",
        "Early fraud warning",
        "early fraud warning",
        as_str(obj.get("id")) or "unknown warning",
        # The warning has no amount of its own; an expanded charge does.
        amount_text(as_dict(charge)),
    )
    draft.name_payment(obj)
    draft.dashboard_id = draft.charge_id or draft.payment_intent_id
    draft.fact("Fraud type", as_words(obj.get("fraud_type")))
    actionable = obj.get("actionable")
    if actionable is True:
        draft.fact("Actionable", "yes: refunding now can head off a dispute")
    elif actionable is False:
        draft.fact("Actionable", "no")
    if isinstance(charge, dict):
        add_people(draft, charge, where)
    return draft


def draft_dispute(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], where: Place, now: float
) -> Draft:
    dispute_id = as_str(obj.get("id")) or "unknown dispute"
    status = as_str(obj.get("status")) or ""
    inquiry = status.startswith("warning_")
    noun = "Inquiry" if inquiry else "Dispute"
    amount = amount_text(obj)
    if event_type == "charge.dispute.created":
        draft = Draft(
            ":rotating_light:", f"{noun} opened", "dispute", dispute_id, amount
        )
    elif event_type == "charge.dispute.closed":
        if status == "won":
            draft = Draft(":trophy:", "Dispute won", "dispute", dispute_id, amount)
        elif status == "lost":
            draft = Draft(":x:", "Dispute lost", "dispute", dispute_id, amount)
        else:
            draft = Draft(":lock:", f"{noun} closed", "dispute", dispute_id, amount)
    elif event_type == "charge.dispute.funds_withdrawn":
        draft = Draft(
            ":money_with_wings:",
            "Dispute funds withdrawn",
            "dispute",
            dispute_id,
            amount,
        )
    elif event_type == "charge.dispute.funds_reinstated":
        draft = Draft(
            ":moneybag:", "Dispute funds reinstated", "dispute", dispute_id, amount
        )
    else:
        draft = Draft(":pencil2:", f"{noun} updated", "dispute", dispute_id, amount)
        add_changes(draft, obj, shapes.event_previous_attributes(ev))
    charge = obj.get("charge")
    draft.name_payment(obj)
    draft.fact("Status", as_words(status))
    draft.fact("Reason", as_words(obj.get("reason")))
    reason_code = shapes.dispute_network_reason_code(obj)
    draft.fact(
        "Network reason code", f"`{escape(reason_code)}`" if reason_code else None
    )
    if status not in _CLOSED_DISPUTE_STATUSES:
        _add_deadline(draft, obj, now)
    if isinstance(charge, dict):
        add_people(draft, charge, where)
    add_common_details(draft, obj)
    return draft


def _add_deadline(draft: Draft, obj: dict[str, Any], now: float) -> None:
    # `evidence_details.due_by`, or `evidence_due_by` before 2014-12-08.
    due_by = shapes.dispute_due_by(obj)
    if not due_by:
        draft.fact("Respond by", "no response possible: the bank allows no response")
        draft.summary_extra.append("the bank allows no response")
        return
    # Time left from now, as the card and reminders count it: the event may be
    # processed long after Stripe made it (a backlog, a retry).
    when = date_token(due_by)
    draft.fact("Respond by", f"{when} ({time_left(due_by, now)})")
    draft.summary_extra.append(f"respond by {when}")
    state = shapes.dispute_evidence_state(obj)
    draft.fact(
        "Evidence",
        "submitted"
        if state.submission_count
        else ("saved, not submitted" if state.has_evidence else "none"),
    )
