"""Refund requests, the refund modals, `/stripe refunds`: pure Block Kit builders.

Text from Stripe or people (customer names, notes, reasons, Stripe's messages)
is escaped here, where it enters mrkdwn; plain-text fields carry only our words.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    InputBlock,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import (
    MESSAGE_BLOCKS_MAX,
    clip,
    context,
    countdown,
    dashboard_url,
    date_token,
    escape,
    header,
    link,
    mrkdwn,
    one_line,
    section,
    truncate,
)
from bot.money import format_amount, to_major_str
from bot.stripe_lookup import Payment, RefundInfo, RefundsLookup
from storage.models import RefundRequest

# Action and callback IDs: the handlers register on these.
APPROVE_ACTION = "refund_approve"
DENY_ACTION = "refund_deny"
OPEN_MODAL_ACTION = "refund_open_modal"
REQUEST_CALLBACK = "refund_request_modal"
DENY_CALLBACK = "refund_deny_modal"

# Block and action IDs of the modals' inputs (the same string for both).
AMOUNT_INPUT = "amount"
REASON_INPUT = "reason"
NOTE_INPUT = "note"
DENY_REASON_INPUT = "deny_reason"

STRIPE_REASONS: dict[str, str] = {
    "requested_by_customer": "Requested by the customer",
    "duplicate": "Duplicate payment",
    "fraudulent": "Fraudulent payment",
}

_NOTE_MAX = 500
_MESSAGE_MAX = 600
_REFUNDS_SHOWN = MESSAGE_BLOCKS_MAX - 4

_REFUND_FAILURES = {
    "lost_or_stolen_card": "the card was reported lost or stolen",
    "expired_or_canceled_card": "the card has expired or was canceled",
    "charge_for_pending_refund_disputed": (
        "the payment was disputed while the refund was pending"
    ),
    "insufficient_funds": "the Stripe balance did not have enough funds",
    "declined": "the card issuer declined the refund",
    "merchant_request": "the refund was canceled at the merchant's request",
    "unknown": "Stripe did not get a reason from the bank",
}

_REFUND_STATUS = {
    "succeeded": "succeeded",
    "pending": "pending (Stripe has not sent it to the bank yet)",
    "requires_action": "waiting for action in the Stripe Dashboard",
    "failed": "failed",
    "canceled": "canceled",
}


def user(user_id: str | None) -> str:
    return f"<@{escape(user_id)}>" if user_id else "someone"


def channel(channel_id: str) -> str:
    return f"<#{escape(channel_id)}>"


def reason_words(reason: str | None) -> str:
    if reason is None:
        return "no reason given"
    return escape(STRIPE_REASONS.get(reason, reason.replace("_", " ")))


def failure_text(code: str | None) -> str:
    """Why a refund failed, in words (not escaped: for storing)."""
    if not code:
        return "Stripe gave no reason"
    return _REFUND_FAILURES.get(code, code.replace("_", " "))


def failure_words(code: str | None) -> str:
    return escape(failure_text(code))


def refund_status_words(status: str | None) -> str:
    if not status:
        return "unknown"
    return escape(_REFUND_STATUS.get(status, status.replace("_", " ")))


def _id_link(object_id: str, livemode: bool) -> str:
    return link(dashboard_url(object_id, livemode=livemode), object_id)


def arn_sentence(
    *,
    status: str | None,
    reference: str | None,
    reference_status: str | None,
    destination_type: str | None = "card",
) -> str | None:
    """What support can tell a customer whose bank cannot find the refund."""
    if status in ("failed", "canceled"):
        return None
    if destination_type not in (None, "card"):
        return (
            f"This refund went back by {escape(destination_type.replace('_', ' '))}, "
            "not to a card, so there is no ARN."
        )
    if reference and reference_status in (None, "available"):
        return (
            "Give the customer this reference number (ARN) for their bank: "
            f"`{escape(reference)}`"
        )
    if reference_status == "unavailable":
        return (
            "The card network gave no reference number (ARN) for this refund; the "
            "customer's bank can still trace it by its date and amount."
        )
    return (
        "The reference number (ARN) is not available yet: the card network "
        "usually provides it within a few days of the refund. Ask again later."
    )


# -- the approval message -------------------------------------------------------


def _summary(req: RefundRequest) -> str:
    return (
        f"*{escape(format_amount(req.amount, req.currency))}* on "
        f"{_id_link(req.payment_id, req.livemode)}"
    )


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
        refund = _id_link(req.refund_id, req.livemode) if req.refund_id else "refund"
        return (
            f":white_check_mark: Approved by {by}{decided}. Refund {refund}: "
            f"*{refund_status_words(req.refund_status)}*."
        )
    if req.status == "failed":
        message = clip(one_line(req.failure_message or "no reason given"), 600)
        if req.refund_id:
            return (
                f":x: Approved by {by}{decided}, but refund "
                f"{_id_link(req.refund_id, req.livemode)} failed: {message}. "
                "The customer got nothing back."
            )
        return f":x: Approved by {by}{decided}, but nothing was refunded. {message}"
    if req.status == "denied":
        return (
            f":no_entry: Denied by {by}{decided}: "
            f"{clip(one_line(req.deny_reason or 'no reason given'), _NOTE_MAX)}"
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
        f"*Payment*\n{_id_link(req.payment_id, req.livemode)}",
        "*Customer*\n"
        + (clip(req.customer_label, 300) if req.customer_label else "unknown")
        + (f" ({_id_link(req.customer_id, req.livemode)})" if req.customer_id else ""),
        f"*Requested by*\n{user(req.requested_by)}",
        f"*Reason*\n{reason_words(req.reason)}",
    ]
    if req.note:
        facts.append(f"*Note*\n{clip(req.note, _NOTE_MAX)}")
    if req.status == "succeeded" and req.refund_id:
        arn = arn_sentence(
            status=req.refund_status,
            reference=req.refund_reference,
            reference_status=req.refund_reference_status,
        )
        if arn:
            facts.append(f"*ARN*\n{arn}")
    blocks = [
        header(f"{title} #{req.id}"),
        section(fields=facts),
        section(_status_line(req)),
    ]
    if req.status == "pending":
        blocks.append(approval_actions(req))
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


def approval_actions(req: RefundRequest) -> dict[str, Any]:
    assert req.id is not None
    amount = format_amount(req.amount, req.currency)
    return ActionsBlock(
        block_id=f"refund_request_{req.id}",
        elements=[
            ButtonElement(
                text="Approve",
                action_id=APPROVE_ACTION,
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
        ],
    ).to_dict()


def request_sent(req: RefundRequest, approvals_channel: str) -> str:
    """The requester's ephemeral answer: where the request went."""
    return (
        f":inbox_tray: Refund request #{req.id} for {_summary(req)} is waiting for "
        f"a manager in {channel(approvals_channel)}. I'll send you a DM when it is "
        "decided; nothing is refunded before that."
    )


def outcome_dm(req: RefundRequest) -> str:
    """The requester's DM once the request is decided or has run out."""
    what = f"Your refund request #{req.id} ({_summary(req)})"
    by = user(req.decided_by)
    if req.status == "succeeded":
        refund = _id_link(req.refund_id, req.livemode) if req.refund_id else "refund"
        return (
            f":white_check_mark: {what} was approved by {by}: Stripe refund "
            f"{refund} is {refund_status_words(req.refund_status)}."
        )
    if req.status == "failed":
        message = clip(one_line(req.failure_message or "no reason given"), 600)
        return f":x: {what} was approved by {by}, but nothing was refunded: {message}"
    if req.status == "denied":
        reason = clip(one_line(req.deny_reason or "no reason given"), _NOTE_MAX)
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
        f":alarm_clock: Refund request #{req.id} ({_summary(req)}, asked by "
        f"{user(req.requested_by)}) is still waiting for a manager. It expires "
        f"{left} ({date_token(int(req.expires_at))})."
    )


def refund_event_reply(
    req: RefundRequest, *, refund_id: str, status: str, failure_reason: str | None
) -> str:
    """A thread reply when Stripe tells us the refund's status changed."""
    refund = _id_link(refund_id, req.livemode)
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


# -- modals ---------------------------------------------------------------------


def _reason_options() -> list[Option]:
    return [Option(value=value, label=label) for value, label in STRIPE_REASONS.items()]


def refund_modal(
    *,
    payment_id: str,
    currency: str,
    remaining: int | None,
    private_metadata: dict[str, Any],
) -> dict[str, Any]:
    """The "Refund…" modal: the fields of `/stripe refund`, payment fixed."""
    code = currency.upper()
    left = (
        f" ({escape(format_amount(remaining, currency))} left to refund)"
        if remaining is not None
        else ""
    )
    placeholder = (
        f"Empty: all that is left ({to_major_str(remaining, currency)} {code})"
        if remaining is not None
        else "Empty: all that is left"
    )
    view = View(
        type="modal",
        callback_id=REQUEST_CALLBACK,
        title="Request a refund",
        submit="Ask a manager",
        close="Cancel",
        private_metadata=json.dumps(private_metadata, separators=(",", ":")),
        blocks=[
            section(f"Refund from `{escape(payment_id)}`{left}."),
            InputBlock(
                block_id=AMOUNT_INPUT,
                label=f"Amount in {code}",
                optional=True,
                element=PlainTextInputElement(
                    action_id=AMOUNT_INPUT, placeholder=placeholder, max_length=32
                ),
            ),
            InputBlock(
                block_id=REASON_INPUT,
                label="Reason",
                optional=True,
                element=StaticSelectElement(
                    action_id=REASON_INPUT,
                    placeholder="Stripe's reason",
                    options=_reason_options(),
                ),
            ),
            InputBlock(
                block_id=NOTE_INPUT,
                label="Note for the approver",
                optional=True,
                element=PlainTextInputElement(
                    action_id=NOTE_INPUT, multiline=True, max_length=_NOTE_MAX
                ),
            ),
        ],
    )
    return view.to_dict()


def deny_modal(
    req: RefundRequest, *, private_metadata: dict[str, Any]
) -> dict[str, Any]:
    """Asks the manager why; the reason goes to the requester and the log."""
    view = View(
        type="modal",
        callback_id=DENY_CALLBACK,
        title="Deny refund request",
        submit="Deny",
        close="Cancel",
        private_metadata=json.dumps(private_metadata, separators=(",", ":")),
        blocks=[
            section(
                f"Deny refund request #{req.id}: {_summary(req)}, asked by "
                f"{user(req.requested_by)}."
            ),
            InputBlock(
                block_id=DENY_REASON_INPUT,
                label="Why? (the requester sees this)",
                element=PlainTextInputElement(
                    action_id=DENY_REASON_INPUT,
                    multiline=True,
                    min_length=1,
                    max_length=_NOTE_MAX,
                ),
            ),
        ],
    )
    return view.to_dict()


# -- `/stripe refunds` ----------------------------------------------------------


def _refund_line(refund: RefundInfo, livemode: bool) -> str:
    head = (
        f"*{escape(format_amount(refund.amount, refund.currency))}* · refund "
        f"{_id_link(refund.id, livemode)} · *{refund_status_words(refund.status)}* · "
        f"{reason_words(refund.reason)} · {date_token(refund.created)}"
    )
    lines = [head]
    if refund.status == "failed":
        lines.append(
            f"Failed: {failure_words(refund.failure_reason)}. Nothing went back to "
            "the customer."
        )
    arn = arn_sentence(
        status=refund.status,
        reference=refund.reference,
        reference_status=refund.reference_status,
        destination_type=refund.destination_type,
    )
    if arn:
        lines.append(arn)
    return "\n".join(lines)


def _payment_line(payment: Payment) -> str:
    money = escape(format_amount(payment.amount, payment.currency))
    refunded = escape(format_amount(payment.amount_refunded, payment.currency))
    left = escape(format_amount(payment.remaining, payment.currency))
    return (
        f"Payment {_id_link(payment.id, payment.livemode)}: {money}, {refunded} "
        f"refunded, {left} left to refund."
    )


def refunds_answer(found: RefundsLookup) -> tuple[str, list[dict[str, Any]]]:
    """Every refund of a payment (or the one asked for), ARN worded for support."""
    asked = escape(found.query.value)
    livemode = found.payment.livemode if found.payment else False
    blocks: list[dict[str, Any]] = []
    if found.payment is not None:
        blocks.append(section(_payment_line(found.payment)))
    if not found.refunds:
        blocks.append(section(f"No refunds on `{asked}`."))
        return f"No refunds on {asked}", blocks
    shown = found.refunds[:_REFUNDS_SHOWN]
    blocks.extend(section(_refund_line(r, livemode)) for r in shown)
    hidden = len(found.refunds) - len(shown)
    if hidden > 0 or found.more:
        blocks.append(
            context(
                f"Showing the newest {len(shown)}; the rest are in the "
                + link(dashboard_url(found.query.value, livemode=livemode), "Dashboard")
                + "."
            )
        )
    count = len(found.refunds)
    noun = "refund" if count == 1 else "refunds"
    return f"{count} {noun} on {asked}", blocks


def refund_button(payment: Payment) -> ButtonElement:
    """The "Refund…" button; its value holds what the modal needs without Stripe."""
    value = json.dumps(
        {"p": payment.id, "c": payment.currency, "r": payment.remaining},
        separators=(",", ":"),
    )
    return ButtonElement(text="Refund…", action_id=OPEN_MODAL_ACTION, value=value)


def section_with_button(text: str, button: ButtonElement | None) -> dict[str, Any]:
    """A mrkdwn section (already escaped) with an optional button beside it."""
    return SectionBlock(text=mrkdwn(truncate(text, 3000)), accessory=button).to_dict()
