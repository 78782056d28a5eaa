"""Refund modals: the request form ("Refund…") and the deny form (pure builders)."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import escape, section
from bot.blocks.refund_words import (
    AMOUNT_INPUT,
    DENY_CALLBACK,
    DENY_REASON_INPUT,
    NOTE_INPUT,
    NOTE_MAX,
    REASON_INPUT,
    REQUEST_CALLBACK,
    STRIPE_REASONS,
    summary,
    user,
)
from bot.money import format_amount, to_major_str
from storage.models import RefundRequest


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
                    action_id=NOTE_INPUT, multiline=True, max_length=NOTE_MAX
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
                f"Deny refund request #{req.id}: {summary(req)}, asked by "
                f"{user(req.requested_by)}."
            ),
            InputBlock(
                block_id=DENY_REASON_INPUT,
                label="Why? (the requester sees this)",
                element=PlainTextInputElement(
                    action_id=DENY_REASON_INPUT,
                    multiline=True,
                    min_length=1,
                    max_length=NOTE_MAX,
                ),
            ),
        ],
    )
    return view.to_dict()
