"""Link previews: a Stripe Dashboard link's object in a few lines (pure builders).

Everything from Stripe is escaped here; the preview is what `chat.unfurl`
shows under the pasted link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.blocks import clip, context, date_token, escape, one_line, section, time_left
from bot.money import format_amount

_EMOJI = {
    "Payment": ":credit_card:",
    "Charge": ":credit_card:",
    "Customer": ":bust_in_silhouette:",
    "Dispute": ":rotating_light:",
    "Refund": ":leftwards_arrow_with_hook:",
    "Payout": ":bank:",
}
_CUSTOMER_MAX = 200
_FACT_MAX = 300


@dataclass(frozen=True)
class Preview:
    """What a preview says about one object (raw Stripe text, escaped when built)."""

    kind: str  # "Payment", "Charge", "Customer", "Dispute", "Refund", "Payout"
    object_id: str
    livemode: bool
    account: str | None = None  # the connected account the link names
    status: str | None = None
    amount: int | None = None
    currency: str | None = None
    customer: str | None = None
    due_by: int | None = None  # a dispute's evidence deadline
    # Further (label, raw text) pairs, e.g. ("Reason", "fraudulent").
    facts: list[tuple[str, str]] = field(default_factory=list)
    # (label, epoch seconds), shown in each reader's time zone.
    dates: list[tuple[str, int]] = field(default_factory=list)
    # A problem reading the object, already worded (bot.stripe_api.describe_error).
    problem: str | None = None


def _words(value: str) -> str:
    return escape(value.replace("_", " "))


def preview_unfurl(preview: Preview, *, now: float) -> dict[str, Any]:
    """The unfurl for one link: a headline, the facts, and where it lives."""
    emoji = _EMOJI.get(preview.kind, ":link:")
    headline = f"{emoji} *{escape(preview.kind)}* `{escape(preview.object_id)}`"
    if preview.problem is not None:
        return {
            "blocks": [
                section(f"{headline}\n{escape(one_line(preview.problem))}"),
            ]
        }
    if preview.status:
        headline += f" · *{_words(preview.status).capitalize()}*"
    lines = [headline]
    if preview.amount is not None and preview.currency:
        lines.append(f"*{escape(format_amount(preview.amount, preview.currency))}*")
    if preview.customer:
        lines.append(f"Customer: {clip(one_line(preview.customer), _CUSTOMER_MAX)}")
    if preview.due_by:
        lines.append(
            f"Respond by {date_token(preview.due_by)} "
            f"({time_left(preview.due_by, now)})"
        )
    for label, value in preview.facts:
        lines.append(f"{escape(label)}: {clip(one_line(value), _FACT_MAX)}")
    for label, when in preview.dates:
        lines.append(f"{escape(label)}: {date_token(when, '{date_short_pretty}')}")
    where = ["Live mode" if preview.livemode else ":test_tube: Test mode"]
    if preview.account:
        where.append(f"connected account `{escape(preview.account)}`")
    return {"blocks": [section("\n".join(lines)), context(" · ".join(where))]}
