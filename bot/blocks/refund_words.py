"""Words shared by every refund builder: IDs, people, reasons, statuses, the ARN.

Text from Stripe or people is escaped here, where it enters mrkdwn.
"""

from __future__ import annotations

from bot.blocks import dashboard_url, escape, link
from bot.money import format_amount
from storage import refunds as store
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

# A note or a deny reason: what the modals accept and the messages show.
NOTE_MAX = 500

# A refund's `failure_reason` in words (alerts and request messages alike).
REFUND_FAILURES = {
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
    return REFUND_FAILURES.get(code, code.replace("_", " "))


def failure_words(code: str | None) -> str:
    return escape(failure_text(code))


def refund_status_words(status: str | None) -> str:
    if not status:
        return "unknown"
    return escape(_REFUND_STATUS.get(status, status.replace("_", " ")))


def req_link(req: RefundRequest, object_id: str) -> str:
    """An ID the request names, linked where the request's payment lives."""
    return id_link(object_id, req.livemode, req.account)


def id_link(object_id: str, livemode: bool, account: str | None = None) -> str:
    return link(dashboard_url(object_id, livemode=livemode, account=account), object_id)


def arn_sentence(
    *,
    status: str | None,
    reference: str | None,
    reference_status: str | None,
    destination_type: str | None = "card",
) -> str | None:
    """What support can tell a customer whose bank cannot find the refund."""
    if status in store.REFUND_ENDED:
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


def summary(req: RefundRequest) -> str:
    return (
        f"*{escape(format_amount(req.amount, req.currency))}* on "
        f"{req_link(req, req.payment_id)}"
    )
