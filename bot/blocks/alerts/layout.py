"""One alert for one Stripe event: the drafter for its object, then the layout."""

from __future__ import annotations

from typing import Any

from bot.blocks import (
    SECTION_TEXT_MAX,
    Place,
    clip,
    context,
    date_token,
    escape,
    header,
    link,
    one_line,
    open_in_stripe,
    section,
    truncate,
)
from bot.blocks.alerts.disputes import draft_dispute, draft_early_fraud_warning
from bot.blocks.alerts.draft import (
    ALERT_GROUPS,
    ALERTED_EVENT_TYPES,
    Alert,
    Builder,
    Draft,
    code_span,
    id_link,
)
from bot.blocks.alerts.payments import draft_charge, draft_payment_intent
from bot.blocks.alerts.payouts import draft_payout
from bot.blocks.alerts.refunds import draft_refund
from bot.blocks.modes import place_lines
from bot.stripe_shapes import as_int, as_str, event_account, event_object

_BUILDERS: dict[str, Builder] = {
    "charge": draft_charge,
    "payment_intent": draft_payment_intent,
    "refund": draft_refund,
    "charge.refund": draft_refund,
    "payout": draft_payout,
    "radar.early_fraud_warning": draft_early_fraud_warning,
    "charge.dispute": draft_dispute,
}


def _builder_for(event_type: str) -> Builder:
    prefix = event_type.rsplit(".", 1)[0]
    return _BUILDERS[prefix]


def _render(
    draft: Draft,
    event: dict[str, Any],
    where: Place,
    *,
    key_live: bool | None,
    account_name: str | None,
) -> Alert:
    event_type = str(event["type"])
    obj = event_object(event)
    target = draft.dashboard_id or draft.object_id
    url = where.url(target)
    related = [
        (label, object_id)
        for label, object_id in (
            ("Charge", draft.charge_id),
            ("PaymentIntent", draft.payment_intent_id),
        )
        if object_id and object_id != draft.object_id
    ]

    headline = [
        draft.amount and f"*{draft.amount}*",
        f"{draft.kind} {id_link(draft.object_id, where)}",
    ]
    lines = [" · ".join(part for part in headline if part)]
    if related:
        lines.append(
            " · ".join(f"{label} {id_link(oid, where)}" for label, oid in related)
        )
    lines.extend(place_lines(where, key_live=key_live, account_name=account_name))

    blocks = [
        header(f"{draft.emoji} {draft.title}"),
        section("\n".join(lines)),
    ]
    if draft.facts:
        blocks.append(section(fields=draft.facts))
    if draft.details:
        blocks.append(section("\n".join(draft.details)))
    blocks.append(open_in_stripe(url))

    created = as_int(obj.get("created")) or as_int(event.get("created"))
    event_id = as_str(event.get("id"))
    footer = [date_token(created)] if created else []
    if event_id:
        footer.append(f"Event {id_link(event_id, where)}")
    if not where.livemode:
        footer.append(":test_tube: Test mode")
    if footer:
        blocks.append(context(" · ".join(footer)))

    return Alert(
        group=ALERT_GROUPS[event_type],
        text=_text(draft, related),
        summary=_summary(draft, related, url, event_id, where, account_name),
        blocks=blocks,
    )


def _livemode(event: dict[str, Any], obj: dict[str, Any]) -> bool:
    for source in (event, obj):
        value = source.get("livemode")
        if isinstance(value, bool):
            return value
    # Every Stripe event carries livemode; without it, a live link is the
    # less surprising guess for a production bot.
    return True


def _text(draft: Draft, related: list[tuple[str, str]]) -> str:
    text = draft.title
    if draft.amount:
        text += f": {draft.amount}"
    if related:
        text += f" on {escape(related[0][1])}"
    text += f" ({escape(draft.object_id)})"
    return truncate(one_line(text), SECTION_TEXT_MAX)


def _summary(
    draft: Draft,
    related: list[tuple[str, str]],
    url: str,
    event_id: str | None,
    where: Place,
    account_name: str | None,
) -> str:
    parts = [f"{draft.emoji} *{draft.title}* {code_span(draft.object_id)}"]
    if where.account is not None:
        # A digest line names the connected account too.
        shown = clip(one_line(account_name), 80) if account_name else None
        parts.append(f"account {shown or code_span(where.account)}")
    parts.extend(
        f"{'charge' if label == 'Charge' else 'PI'} {code_span(oid)}"
        for label, oid in related
    )
    if draft.amount:
        parts.append(f"*{draft.amount}*")
    parts.extend(draft.summary_extra)
    if event_id:
        parts.append(f"event {code_span(event_id)}")
    parts.append(link(url, "Dashboard"))
    return truncate(one_line(" · ".join(parts)), SECTION_TEXT_MAX)


def event_place(event: dict[str, Any]) -> Place:
    """Where the event's object lives: its mode, and its connected account."""
    return Place(_livemode(event, event_object(event)), event_account(event))


def build_alert(
    event: dict[str, Any],
    *,
    now: float,
    key_live: bool | None = None,
    account_name: str | None = None,
) -> Alert | None:
    """The alert for one Stripe event, or None for types we do not alert on;
    `now` is when it is processed (deadlines count down from it).

    `key_live` is the mode of the bot's key (said when the event's differs);
    `account_name` the connected account's name, when the key may read it.
    """
    event_type = event.get("type")
    if not isinstance(event_type, str) or event_type not in ALERTED_EVENT_TYPES:
        return None
    obj = event_object(event)
    where = event_place(event)
    draft = _builder_for(event_type)(event_type, obj, event, where, now)
    return _render(draft, event, where, key_live=key_live, account_name=account_name)
