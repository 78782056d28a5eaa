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

from bot.blocks import OPEN_IN_STRIPE_BLOCK, context, escape

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


def refund_button(warning_id: str, charge_id: str) -> ButtonElement:
    """The *Refund…* button; a confirmation says what a click asks for."""
    return ButtonElement(
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


def refund_offer(warning_id: str, charge_id: str) -> dict[str, Any]:
    """The *Refund…* button in a row of its own (for an alert without the
    *Open in Stripe* row to sit in)."""
    return ActionsBlock(
        block_id=OFFER_BLOCK, elements=[refund_button(warning_id, charge_id)]
    ).to_dict()


def _without_offer(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("type") != "actions":
        return block
    elements = [
        e
        for e in block.get("elements") or []
        if e.get("action_id") != EFW_REFUND_ACTION
    ]
    return {**block, "elements": elements}


def with_offer(
    blocks: list[dict[str, Any]] | None,
    *,
    warning_id: str,
    charge_id: str,
    closed_why: str | None,
) -> list[dict[str, Any]]:
    """The alert's blocks as first posted, with the offer (when `closed_why`
    is None) or the line saying why there is none.

    The button goes first in the alert's *Open in Stripe* row, as on refund
    requests and dispute cards: one row of buttons, acting ones before the
    link; the line saying why there is none sits just above that row.
    """
    kept = [_without_offer(b) for b in blocks or [] if b.get("block_id") != OFFER_BLOCK]
    row = next(
        (
            i
            for i, b in enumerate(kept)
            if b.get("type") == "actions" and b.get("block_id") == OPEN_IN_STRIPE_BLOCK
        ),
        None,
    )
    if closed_why is not None:
        words = CLOSED_WORDS.get(closed_why, "No refund offered from here.")
        line = {**context(words), "block_id": OFFER_BLOCK}
        at = len(kept) if row is None else row
        return [*kept[:at], line, *kept[at:]]
    if row is None:
        return [*kept, refund_offer(warning_id, charge_id)]
    button = refund_button(warning_id, charge_id).to_dict()
    links = kept[row]
    kept[row] = {**links, "elements": [button, *links["elements"]]}
    return kept
