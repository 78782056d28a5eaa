"""Refund requests: the approval message, the requester's answers and DMs,
reminders and event replies. Pure Block Kit builders; the modals are in
`bot.blocks.refund_forms`, `/stripe refunds` in `bot.blocks.refund_lookups`.

Text from Stripe or people (customer names, notes, reasons, Stripe's messages)
is escaped here, where it enters mrkdwn; plain-text fields carry only our words.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject

from bot.blocks import (
    Place,
    clip,
    context,
    countdown,
    date_token,
    escape,
    header,
    mrkdwn,
    one_line,
    open_in_stripe,
    open_in_stripe_button,
    section,
    truncate,
)
from bot.blocks.modes import place_lines
from bot.blocks.refund_forms import deny_modal, refund_modal
from bot.blocks.refund_lookups import refund_button, refunds_answer, section_with_button
from bot.blocks.refund_words import (
    AMOUNT_INPUT,
    APPROVE_ACTION,
    DENY_ACTION,
    DENY_CALLBACK,
    DENY_REASON_INPUT,
    NOTE_INPUT,
    NOTE_MAX,
    OPEN_MODAL_ACTION,
    REASON_INPUT,
    REQUEST_CALLBACK,
    STRIPE_REASONS,
    arn_sentence,
    channel,
    failure_text,
    failure_words,
    reason_words,
    refund_status_words,
    req_link,
    summary,
    user,
)
from bot.money import format_amount
from storage.models import RefundRequest

__all__ = [
    "AMOUNT_INPUT",
    "APPROVE_ACTION",
    "DENY_ACTION",
    "DENY_CALLBACK",
    "DENY_REASON_INPUT",
    "NOTE_INPUT",
    "OPEN_MODAL_ACTION",
    "REASON_INPUT",
    "REQUEST_CALLBACK",
    "STRIPE_REASONS",
    "approval_actions",
    "arn_sentence",
    "deny_modal",
    "failure_text",
    "failure_words",
    "outcome_dm",
    "reason_words",
    "refund_button",
    "refund_event_reply",
    "refund_modal",
    "refund_status_words",
    "refunds_answer",
    "reminder",
    "request_message",
    "request_sent",
    "section_with_button",
    "user",
]


def _status_line(req: RefundRequest) -> str:
    decided = f" {date_token(int(req.decided_at))}" if req.decided_at else ""
    by = user(req.decided_by)
    if req.status == "pending":
        return (
            f":hourglass_flowing_sand: Waiting for a manager. Expires "
            f"{date_token(int(req.expires_at))}."
        )
    if req.status == "approved":
        if req.last_error:
            return (
                f":warning: Approved by {by}{decided}. Stripe did not answer "
                f"({clip(one_line(req.last_error), 200)}); stripe-ops keeps trying "
                "with the same idempotency key, so the customer is refunded once."
            )
        return f":arrows_counterclockwise: Approved by {by}{decided}; refunding…"
    if req.status == "succeeded":
        refund = req_link(req, req.refund_id) if req.refund_id else "refund"
        return (
            f":white_check_mark: Approved by {by}{decided}. Refund {refund}: "
            f"*{refund_status_words(req.refund_status)}*."
        )
    if req.status == "failed":
        message = clip(one_line(req.failure_message or "no reason given"), 600)
        if req.refund_id:
            return (
                f":x: Approved by {by}{decided}, but refund "
                f"{req_link(req, req.refund_id)} failed: {message}. "
                "The customer got nothing back."
            )
        return f":x: Approved by {by}{decided}, but nothing was refunded. {message}"
    if req.status == "denied":
        return (
            f":no_entry: Denied by {by}{decided}: "
            f"{clip(one_line(req.deny_reason or 'no reason given'), NOTE_MAX)}"
        )
    if req.status == "expired":
        return f":hourglass: Expired{decided} with no decision; nothing was refunded."
    return escape(req.status)


def request_message(req: RefundRequest) -> tuple[str, list[dict[str, Any]]]:
    """The approval message in its current state: (fallback text, blocks)."""
    assert req.id is not None
    title = {
        "pending": ":money_with_wings: Refund request",
        "approved": ":arrows_counterclockwise: Refund approved",
        "succeeded": ":white_check_mark: Refunded",
        "failed": ":x: Refund not made",
        "denied": ":no_entry: Refund denied",
        "expired": ":hourglass: Refund request expired",
    }.get(req.status, "Refund request")
    facts = [
        f"*Amount*\n{escape(format_amount(req.amount, req.currency))} of "
        f"{escape(format_amount(req.payment_amount, req.currency))}",
        f"*Payment*\n{req_link(req, req.payment_id)}",
        "*Customer*\n"
        + (clip(req.customer_label, 300) if req.customer_label else "unknown")
        + (f" ({req_link(req, req.customer_id)})" if req.customer_id else ""),
        f"*Requested by*\n{user(req.requested_by)}",
        f"*Reason*\n{reason_words(req.reason)}",
    ]
    if req.note:
        facts.append(f"*Note*\n{clip(req.note, NOTE_MAX)}")
    if req.status == "succeeded" and req.refund_id:
        arn = arn_sentence(
            status=req.refund_status,
            reference=req.refund_reference,
            reference_status=req.refund_reference_status,
        )
        if arn:
            facts.append(f"*ARN*\n{arn}")
    where = Place(req.livemode, req.account)
    blocks = [
        header(f"{title} #{req.id}"),
        section(fields=facts),
        section(
            "\n".join(
                [
                    _status_line(req),
                    *place_lines(where, key_live=None, account_name=req.account_name),
                ]
            )
        ),
    ]
    if req.status == "pending":
        blocks.append(approval_actions(req))
    else:
        blocks.append(
            open_in_stripe(where.url(req.payment_id), block_id=f"refund_link_{req.id}")
        )
    footer = [f"Request #{req.id}", f"asked {date_token(int(req.requested_at))}"]
    if req.requested_in:
        footer.append(f"from {channel(req.requested_in)}")
    if not req.livemode:
        footer.append(":test_tube: Test mode")
    blocks.append(context(" · ".join(footer)))
    text = truncate(
        one_line(
            f"{title.split(' ', 1)[1]} #{req.id}: "
            f"{format_amount(req.amount, req.currency)} on {escape(req.payment_id)}"
        ),
        300,
    )
    return text, blocks


def approval_actions(
    req: RefundRequest,
    *,
    approve_action: str = APPROVE_ACTION,
    block_id: str = "refund_request",
) -> dict[str, Any]:
    """Approve (with Stripe's confirmation) and Deny… for one request; the
    Home tab passes its own action and block ids."""
    assert req.id is not None
    amount = format_amount(req.amount, req.currency)
    where = Place(req.livemode, req.account)
    return ActionsBlock(
        block_id=f"{block_id}_{req.id}",
        elements=[
            ButtonElement(
                text="Approve",
                action_id=approve_action,
                value=str(req.id),
                style="primary",
                confirm=ConfirmObject(
                    title="Refund the customer?",
                    text=mrkdwn(
                        f"Stripe refunds {escape(amount)} on "
                        f"{escape(req.payment_id)} at once. A refund cannot be "
                        "undone."
                    ),
                    confirm="Refund",
                    deny="Cancel",
                ),
            ),
            ButtonElement(
                text="Deny…",
                action_id=DENY_ACTION,
                value=str(req.id),
                style="danger",
            ),
            open_in_stripe_button(where.url(req.payment_id)),
        ],
    ).to_dict()


def request_sent(req: RefundRequest, approvals_channel: str) -> str:
    """The requester's ephemeral answer: where the request went."""
    return (
        f":inbox_tray: Refund request #{req.id} for {summary(req)} is waiting for "
        f"a manager in {channel(approvals_channel)}. I'll send you a DM when it is "
        "decided; nothing is refunded before that."
    )


def outcome_dm(req: RefundRequest) -> str:
    """The requester's DM once the request is decided or has run out."""
    what = f"Your refund request #{req.id} ({summary(req)})"
    by = user(req.decided_by)
    if req.status == "succeeded":
        refund = req_link(req, req.refund_id) if req.refund_id else "refund"
        return (
            f":white_check_mark: {what} was approved by {by}: Stripe refund "
            f"{refund} is {refund_status_words(req.refund_status)}."
        )
    if req.status == "failed":
        message = clip(one_line(req.failure_message or "no reason given"), 600)
        return f":x: {what} was approved by {by}, but nothing was refunded: {message}"
    if req.status == "denied":
        reason = clip(one_line(req.deny_reason or "no reason given"), NOTE_MAX)
        return f":no_entry: {what} was denied by {by}: {reason}"
    if req.status == "expired":
        return (
            f":hourglass: {what} expired with no decision; nothing was refunded. "
            f"Ask again with `/stripe refund {escape(req.payment_id)}` if the "
            "customer still needs it."
        )
    return f"{what} is {escape(req.status)}."


def reminder(req: RefundRequest, *, now: float) -> str:
    """A nudge in the request's thread for the approvers."""
    left = countdown(int(req.expires_at - now))
    return (
        f":alarm_clock: Refund request #{req.id} ({summary(req)}, asked by "
        f"{user(req.requested_by)}) is still waiting for a manager. It expires "
        f"{left} ({date_token(int(req.expires_at))})."
    )


def refund_event_reply(
    req: RefundRequest, *, refund_id: str, status: str, failure_reason: str | None
) -> str:
    """A thread reply when Stripe tells us the refund's status changed."""
    refund = req_link(req, refund_id)
    if status == "failed":
        return (
            f":x: Refund {refund} failed: {failure_words(failure_reason)}. The "
            "customer got nothing back; request a new refund or contact them."
        )
    line = f":pencil2: Refund {refund} is now *{refund_status_words(status)}*."
    arn = arn_sentence(
        status=status,
        reference=req.refund_reference,
        reference_status=req.refund_reference_status,
    )
    if arn and req.refund_reference:
        line += f"\n{arn}"
    return line
