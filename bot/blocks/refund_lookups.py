"""`/stripe refunds` and the Refund… button beside a payment (pure builders)."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import ButtonElement, SectionBlock

from bot.blocks import (
    MESSAGE_BLOCKS_MAX,
    context,
    dashboard_url,
    date_token,
    escape,
    link,
    mrkdwn,
    section,
    truncate,
)
from bot.blocks.refund_words import (
    OPEN_MODAL_ACTION,
    arn_sentence,
    failure_words,
    id_link,
    reason_words,
    refund_status_words,
)
from bot.money import format_amount
from bot.stripe_lookup import Payment, RefundInfo, RefundsLookup

_REFUNDS_SHOWN = MESSAGE_BLOCKS_MAX - 4

REFUNDS_USAGE = (
    "Write it as `/stripe refunds &lt;pi_… | ch_… | re_…&gt;`, e.g. "
    "`/stripe refunds pi_3Abc…`."
)


def refunds_malformed(text: str) -> str:
    """`/stripe refunds` with no ID, or not a payment or refund ID."""
    what = f"`{escape(text)}` is not" if text else "That needs"
    return f"{what} a payment or refund ID. {REFUNDS_USAGE}"


def refunds_not_found(object_id: str) -> str:
    return f"Stripe has nothing with the ID `{escape(object_id)}`. {REFUNDS_USAGE}"


def refunds_unreadable(stripe_message: str) -> str:
    """Stripe did not answer (bot.stripe_api.describe_error's words)."""
    return f"Stripe did not give me the refunds: {escape(stripe_message)}"


def _refund_line(refund: RefundInfo, livemode: bool, account: str | None) -> str:
    head = (
        f"*{escape(format_amount(refund.amount, refund.currency))}* · refund "
        f"{id_link(refund.id, livemode, account)} · "
        f"*{refund_status_words(refund.status)}* · "
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


def _payment_line(payment: Payment, account: str | None) -> str:
    money = escape(format_amount(payment.amount, payment.currency))
    refunded = escape(format_amount(payment.amount_refunded, payment.currency))
    left = escape(format_amount(payment.remaining, payment.currency))
    return (
        f"Payment {id_link(payment.id, payment.livemode, account)}: {money}, "
        f"{refunded} "
        f"refunded, {left} left to refund."
    )


def refunds_answer(
    found: RefundsLookup, *, account: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Every refund of a payment (or the one asked for), ARN worded for support;
    `account`: the connected account they were looked up in (Connect)."""
    asked = escape(found.query.value)
    livemode = found.payment.livemode if found.payment else False
    blocks: list[dict[str, Any]] = []
    if found.payment is not None:
        blocks.append(section(_payment_line(found.payment, account)))
    if not found.refunds:
        blocks.append(section(f"No refunds on `{asked}`."))
        return f"No refunds on {asked}", blocks
    shown = found.refunds[:_REFUNDS_SHOWN]
    blocks.extend(section(_refund_line(r, livemode, account)) for r in shown)
    hidden = len(found.refunds) - len(shown)
    if hidden > 0 or found.more:
        blocks.append(
            context(
                f"Showing the newest {len(shown)}; the rest are in the "
                + link(
                    dashboard_url(
                        found.query.value, livemode=livemode, account=account
                    ),
                    "Dashboard",
                )
                + "."
            )
        )
    count = len(found.refunds)
    noun = "refund" if count == 1 else "refunds"
    return f"{count} {noun} on {asked}", blocks


def refund_button(payment: Payment, account: str | None = None) -> ButtonElement:
    """The "Refund…" button; its value holds what the modal needs without Stripe
    (and, for a connected account's payment, the account)."""
    fields: dict[str, object] = {
        "p": payment.id,
        "c": payment.currency,
        "r": payment.remaining,
    }
    if account is not None:
        fields["a"] = account
    value = json.dumps(fields, separators=(",", ":"))
    return ButtonElement(text="Refund…", action_id=OPEN_MODAL_ACTION, value=value)


def section_with_button(text: str, button: ButtonElement | None) -> dict[str, Any]:
    """A mrkdwn section (already escaped) with an optional button beside it."""
    return SectionBlock(text=mrkdwn(truncate(text, 3000)), accessory=button).to_dict()
