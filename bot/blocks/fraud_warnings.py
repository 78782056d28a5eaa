"""An early fraud warning's alert with its *Refund…* offer, or why there is
none (pure builders)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    MarkdownTextObject,
)

from bot.blocks import context, escape

EFW_REFUND_ACTION = "efw_refund"
OFFER_BLOCK = "efw_refund_offer"

# Why a warning offers no refund, in words for the channel.
CLOSED_WORDS: dict[str, str] = {
    "disputed": (
        ":no_entry: No refund from here: the charge is disputed now, and Stripe "
        "refunds no disputed charge. Answer the dispute instead."
    ),
    "refunded": ":white_check_mark: Refunded in full: nothing is left to refund.",
    "not_actionable": (
        "Stripe marks this warning not actionable: no refund offered from here."
    ),
    "not_succeeded": "The payment did not succeed: there is nothing to refund.",
    "other_mode": (
        "stripe-ops runs with a key of the other mode (test or live), which "
        "cannot act on this warning: no refund offered from here."
    ),
    "gone": (
        "Stripe does not give this key the charge (deleted, or in the other "
        "mode): no refund offered from here."
    ),
}


def refund_offer(warning_id: str, charge_id: str) -> dict[str, Any]:
    """The *Refund…* button; a confirmation says what a click asks for."""
    button = ButtonElement(
        text="Refund…",
        action_id=EFW_REFUND_ACTION,
        value=warning_id,
        style="danger",
        confirm=ConfirmObject(
            title="Ask for a refund?",
            text=MarkdownTextObject(
                text=(
                    f"Ask a manager to refund everything left on "
                    f"`{escape(charge_id)}` as *fraudulent*. Refunding now can "
                    "head off a dispute; nothing is refunded before a manager "
                    "approves."
                )
            ),
            confirm="Ask a manager",
            deny="Cancel",
        ),
    )
    return ActionsBlock(block_id=OFFER_BLOCK, elements=[button]).to_dict()


def with_offer(
    blocks: list[dict[str, Any]] | None,
    *,
    warning_id: str,
    charge_id: str,
    closed_why: str | None,
) -> list[dict[str, Any]]:
    """The alert's blocks as first posted, with the offer (when `closed_why`
    is None) or the line saying why there is none."""
    kept = [b for b in blocks or [] if b.get("block_id") != OFFER_BLOCK]
    if closed_why is None:
        return [*kept, refund_offer(warning_id, charge_id)]
    words = CLOSED_WORDS.get(closed_why, "No refund offered from here.")
    return [*kept, {**context(words), "block_id": OFFER_BLOCK}]
