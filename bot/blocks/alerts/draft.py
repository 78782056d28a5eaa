"""What an alert says, gathered before it is laid out, and the facts
several kinds of Stripe object share.

Every string taken from a Stripe object goes through `escape`/`clip` at the point
where it is put into mrkdwn; plain-text blocks carry only our own wording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bot import stripe_shapes as shapes
from bot.blocks import Place, clip, escape, one_line
from bot.money import format_amount
from bot.stripe_shapes import as_dict, as_int, as_str, expandable_id

AlertGroup = Literal["payments", "refunds", "payouts", "disputes"]

ALERT_GROUPS: dict[str, AlertGroup] = {
    "charge.succeeded": "payments",
    "charge.failed": "payments",
    "payment_intent.succeeded": "payments",
    "payment_intent.payment_failed": "payments",
    "payment_intent.canceled": "payments",
    "charge.refunded": "refunds",
    "refund.created": "refunds",
    "refund.updated": "refunds",
    "refund.failed": "refunds",
    "charge.refund.updated": "refunds",
    "payout.created": "payouts",
    "payout.paid": "payouts",
    "payout.failed": "payouts",
    "radar.early_fraud_warning.created": "disputes",
    "charge.dispute.created": "disputes",
    "charge.dispute.closed": "disputes",
    "charge.dispute.updated": "disputes",
    "charge.dispute.funds_withdrawn": "disputes",
    "charge.dispute.funds_reinstated": "disputes",
}
ALERTED_EVENT_TYPES: frozenset[str] = frozenset(ALERT_GROUPS)

# Long free text from Stripe (failure messages, descriptions) is cut well below the
# section limit so that several of them fit in one details section.
FREE_TEXT_MAX = 600
_METADATA_MAX_KEYS = 5
_METADATA_VALUE_MAX = 100
_CHANGES_MAX = 6
_CHANGES_DEPTH = 3


@dataclass(frozen=True, slots=True)
class Alert:
    """One Slack message for one Stripe event."""

    group: AlertGroup
    text: str
    summary: str
    blocks: list[dict[str, Any]]


@dataclass(slots=True)
class Draft:
    """What an alert says, gathered from the event before it is laid out."""

    emoji: str
    title: str
    kind: str
    object_id: str
    amount: str | None = None
    charge_id: str | None = None
    payment_intent_id: str | None = None
    # The object the Dashboard link opens; early fraud warnings open their charge.
    dashboard_id: str | None = None
    facts: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    summary_extra: list[str] = field(default_factory=list)

    def fact(self, label: str, value_mrkdwn: str | None) -> None:
        """Add a field; `value_mrkdwn` must already be escaped."""
        if value_mrkdwn:
            self.facts.append(f"*{label}*\n{value_mrkdwn}")

    def name_payment(self, obj: dict[str, Any]) -> None:
        """The charge and PaymentIntent that `obj` (a refund, dispute or early
        fraud warning) names, the PaymentIntent also through an expanded charge."""
        charge = obj.get("charge")
        self.charge_id = expandable_id(charge)
        self.payment_intent_id = expandable_id(
            obj.get("payment_intent")
        ) or expandable_id(as_dict(charge).get("payment_intent"))

    def detail(self, label: str, value_mrkdwn: str | None) -> None:
        """Add a line to the details section; `value_mrkdwn` is already escaped."""
        if value_mrkdwn:
            self.details.append(f"*{label}:* {value_mrkdwn}")


def amount_text(obj: dict[str, Any], key: str = "amount") -> str | None:
    amount = as_int(obj.get(key))
    currency = as_str(obj.get("currency"))
    if amount is None or currency is None:
        return None
    return escape(format_amount(amount, currency))


def as_words(code: object) -> str | None:
    """A Stripe enum value as words: "not_received" -> "not received"."""
    text = as_str(code)
    return escape(text.replace("_", " ")) if text else None


def id_link(object_id: str | None, where: Place) -> str | None:
    if object_id is None:
        return None
    return where.link(object_id)


def code_span(object_id: str) -> str:
    return f"`{escape(object_id)}`"


# --- facts shared by several object types -------------------------------------


def add_people(draft: Draft, obj: dict[str, Any], where: Place) -> None:
    """Customer ID and the payer's name/email, from a charge (of any API
    version) or PaymentIntent."""
    draft.fact("Customer", id_link(expandable_id(obj.get("customer")), where))
    payer = shapes.charge_payer(obj)
    draft.fact("Name", clip(payer.name, 200) if payer.name else None)
    draft.fact("Email", clip(payer.email, 200) if payer.email else None)


def add_card(draft: Draft, card: shapes.Card | None) -> None:
    if card is not None:
        brand = card.brand.title()
        draft.fact("Card", f"{escape(brand)} •••• {escape(card.last4)}")


def add_common_details(draft: Draft, obj: dict[str, Any]) -> None:
    description = as_str(obj.get("description"))
    if description:
        draft.detail("Description", clip(one_line(description), FREE_TEXT_MAX))
    metadata = as_dict(obj.get("metadata"))
    pairs = [
        f"{clip(one_line(str(key)), 40)}="
        f"{clip(one_line(str(value)), _METADATA_VALUE_MAX)}"
        for key, value in list(metadata.items())[:_METADATA_MAX_KEYS]
    ]
    if len(metadata) > _METADATA_MAX_KEYS:
        pairs.append(f"and {len(metadata) - _METADATA_MAX_KEYS} more")
    draft.detail("Metadata", " · ".join(pairs) if pairs else None)


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | bool)


def _show(value: object) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return clip(one_line(str(value)), 100)


def _changes(
    obj: dict[str, Any], previous: dict[str, Any], prefix: str = "", depth: int = 0
) -> list[str]:
    """ "name: before → after" for each value that differs, nested hashes as
    dotted names. Stripe puts a changed hash in `previous_attributes` whole (the
    dispute's `evidence` lists every field), so equal values are left out."""
    changes: list[str] = []
    for key, before in previous.items():
        name = f"{prefix}{key}"
        after = obj.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and depth < _CHANGES_DEPTH:
            changes += _changes(as_dict(after), before, f"{name}.", depth + 1)
        elif _scalar(before) and _scalar(after):
            changes.append(f"{clip(name, 80)}: {_show(before)} → {_show(after)}")
        else:
            changes.append(f"{clip(name, 80)} changed")
    return changes


def add_changes(draft: Draft, obj: dict[str, Any], previous: dict[str, Any]) -> None:
    """What an `*.updated` event changed, from `previous_attributes`."""
    changes = _changes(obj, previous)
    if len(changes) > _CHANGES_MAX:
        changes = [*changes[:_CHANGES_MAX], f"and {len(changes) - _CHANGES_MAX} more"]
    draft.detail("Changed", "; ".join(changes) if changes else None)


def failure_text(message: object, code: object) -> str | None:
    text = as_str(message)
    parts = [clip(one_line(text), FREE_TEXT_MAX)] if text else []
    code_text = as_str(code)
    if code_text:
        parts.append(f"(`{escape(code_text)}`)")
    return " ".join(parts) if parts else None


# (event type, object, event, where it lives, now) -> what the alert says
Builder = Callable[[str, dict[str, Any], dict[str, Any], Place, float], Draft]
