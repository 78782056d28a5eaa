"""Slack alerts for the Stripe events we subscribe to, and digests of them.

Every string taken from a Stripe object goes through `escape`/`clip` at the point
where it is put into mrkdwn; plain-text blocks carry only our own wording.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bot import stripe_shapes as shapes
from bot.blocks import (
    MESSAGE_BLOCKS_MAX,
    SECTION_TEXT_MAX,
    clip,
    context,
    dashboard_url,
    date_token,
    escape,
    header,
    link,
    one_line,
    section,
    time_left,
    truncate,
)
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

# Each summary line is cut to one section's text limit, so even in the worst case
# every line gets its own section: 40 sections + header + context = 42 <= 50 blocks.
DIGEST_MAX_ITEMS = 40

# Long free text from Stripe (failure messages, descriptions) is cut well below the
# section limit so that several of them fit in one details section.
_FREE_TEXT_MAX = 600
_METADATA_MAX_KEYS = 5
_METADATA_VALUE_MAX = 100
_CHANGES_MAX = 6
_CHANGES_DEPTH = 3

# `charge_refunded`: closed because the charge was refunded (older versions).
_CLOSED_DISPUTE_STATUSES = frozenset(
    {"won", "lost", "warning_closed", "prevented", "charge_refunded"}
)

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


@dataclass(frozen=True, slots=True)
class Alert:
    """One Slack message for one Stripe event."""

    group: AlertGroup
    text: str
    summary: str
    blocks: list[dict[str, Any]]


@dataclass(slots=True)
class _Draft:
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

    def detail(self, label: str, value_mrkdwn: str | None) -> None:
        """Add a line to the details section; `value_mrkdwn` is already escaped."""
        if value_mrkdwn:
            self.details.append(f"*{label}:* {value_mrkdwn}")


def _money(obj: dict[str, Any], key: str = "amount") -> str | None:
    amount = as_int(obj.get(key))
    currency = as_str(obj.get("currency"))
    if amount is None or currency is None:
        return None
    return escape(format_amount(amount, currency))


def _words(code: object) -> str | None:
    """A Stripe enum value as words: "not_received" -> "not received"."""
    text = as_str(code)
    return escape(text.replace("_", " ")) if text else None


def _id_link(object_id: str | None, livemode: bool) -> str | None:
    if object_id is None:
        return None
    return link(dashboard_url(object_id, livemode=livemode), object_id)


def _code(object_id: str) -> str:
    return f"`{escape(object_id)}`"


# --- facts shared by several object types -------------------------------------


def _add_people(draft: _Draft, obj: dict[str, Any], livemode: bool) -> None:
    """Customer ID and the payer's name/email, from a charge (of any API
    version) or PaymentIntent."""
    draft.fact("Customer", _id_link(expandable_id(obj.get("customer")), livemode))
    payer = shapes.charge_payer(obj)
    draft.fact("Name", clip(payer.name, 200) if payer.name else None)
    draft.fact("Email", clip(payer.email, 200) if payer.email else None)


def _add_card(draft: _Draft, card: shapes.Card | None) -> None:
    if card is not None:
        brand = card.brand.title()
        draft.fact("Card", f"{escape(brand)} •••• {escape(card.last4)}")


def _add_common_details(draft: _Draft, obj: dict[str, Any]) -> None:
    description = as_str(obj.get("description"))
    if description:
        draft.detail("Description", clip(one_line(description), _FREE_TEXT_MAX))
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


def _add_changes(draft: _Draft, obj: dict[str, Any], previous: dict[str, Any]) -> None:
    """What an `*.updated` event changed, from `previous_attributes`."""
    changes = _changes(obj, previous)
    if len(changes) > _CHANGES_MAX:
        changes = [*changes[:_CHANGES_MAX], f"and {len(changes) - _CHANGES_MAX} more"]
    draft.detail("Changed", "; ".join(changes) if changes else None)


def _failure(message: object, code: object) -> str | None:
    text = as_str(message)
    parts = [clip(one_line(text), _FREE_TEXT_MAX)] if text else []
    code_text = as_str(code)
    if code_text:
        parts.append(f"(`{escape(code_text)}`)")
    return " ".join(parts) if parts else None


# --- one builder per object type -----------------------------------------------

# (event type, object, event, livemode, now) -> what the alert says
_Builder = Callable[[str, dict[str, Any], dict[str, Any], bool, float], _Draft]


def _charge(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], live: bool, now: float
) -> _Draft:
    charge_id = as_str(obj.get("id")) or "unknown charge"
    if event_type == "charge.refunded":
        fully = obj.get("refunded") is True
        draft = _Draft(
            emoji=":leftwards_arrow_with_hook:",
            title="Payment fully refunded" if fully else "Payment partially refunded",
            kind="charge",
            object_id=charge_id,
            amount=_money(obj, "amount_refunded"),
        )
        draft.fact("Payment amount", _money(obj))
        refund_ids = shapes.charge_refund_ids(obj)
        draft.fact(
            "Refunds",
            " ".join(filter(None, (_id_link(r, live) for r in refund_ids[:5]))),
        )
    elif event_type == "charge.failed":
        draft = _Draft(":x:", "Payment failed", "charge", charge_id, _money(obj))
        outcome = as_dict(obj.get("outcome"))
        draft.detail(
            "Why it failed",
            _failure(obj.get("failure_message"), obj.get("failure_code")),
        )
        seller_message = as_str(outcome.get("seller_message"))
        if seller_message:
            draft.detail("Stripe says", clip(one_line(seller_message), _FREE_TEXT_MAX))
    else:
        draft = _Draft(
            ":white_check_mark:", "Payment succeeded", "charge", charge_id, _money(obj)
        )
    draft.payment_intent_id = expandable_id(obj.get("payment_intent"))
    draft.fact("Status", _words(obj.get("status")))
    _add_people(draft, obj, live)
    _add_card(draft, shapes.charge_card(obj))
    _add_common_details(draft, obj)
    return draft


def _payment_intent(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], live: bool, now: float
) -> _Draft:
    pi_id = as_str(obj.get("id")) or "unknown PaymentIntent"
    error = as_dict(obj.get("last_payment_error"))
    if event_type == "payment_intent.payment_failed":
        draft = _Draft(":x:", "Payment failed", "PaymentIntent", pi_id, _money(obj))
        draft.detail(
            "Why it failed",
            _failure(
                error.get("message"), error.get("decline_code") or error.get("code")
            ),
        )
    elif event_type == "payment_intent.canceled":
        draft = _Draft(
            ":no_entry_sign:", "Payment canceled", "PaymentIntent", pi_id, _money(obj)
        )
        draft.fact("Cancellation reason", _words(obj.get("cancellation_reason")))
    else:
        draft = _Draft(
            ":white_check_mark:",
            "Payment succeeded",
            "PaymentIntent",
            pi_id,
            _money(obj),
        )
    # `latest_charge` since 2022-08-01, `charges.data[0]` before.
    latest_charge = shapes.intent_charge(obj)
    charge = as_dict(latest_charge)
    draft.charge_id = expandable_id(latest_charge) or expandable_id(error.get("charge"))
    draft.fact("Status", _words(obj.get("status")))
    # Name, email and card live on the charge; use them when it came expanded,
    # else the failed attempt's PaymentMethod.
    method = as_dict(error.get("payment_method"))
    payer = charge or {"billing_details": method.get("billing_details")}
    people = {
        **payer,
        "customer": obj.get("customer"),
        "receipt_email": obj.get("receipt_email") or payer.get("receipt_email"),
    }
    _add_people(draft, people, live)
    _add_card(
        draft,
        shapes.charge_card(charge)
        or shapes.payment_method_card(method)
        or shapes.payment_method_card(error.get("source")),
    )
    _add_common_details(draft, obj)
    return draft


def _refund(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], live: bool, now: float
) -> _Draft:
    refund_id = as_str(obj.get("id")) or "unknown refund"
    status = as_str(obj.get("status"))
    if event_type == "refund.failed":
        draft = _Draft(":x:", "Refund failed", "refund", refund_id, _money(obj))
        reason = as_str(obj.get("failure_reason"))
        if reason:
            draft.detail(
                "Why it failed",
                f"{escape(_REFUND_FAILURES.get(reason, reason.replace('_', ' ')))} "
                f"(`{escape(reason)}`)",
            )
    elif event_type == "refund.created":
        draft = _Draft(
            ":leftwards_arrow_with_hook:", "Refund created", "refund", refund_id
        )
        draft.amount = _money(obj)
    else:
        draft = _Draft(":pencil2:", "Refund updated", "refund", refund_id, _money(obj))
        if status == "failed":
            draft.title = "Refund updated: failed"
            draft.emoji = ":x:"
        _add_changes(
            draft, obj, as_dict(as_dict(ev.get("data")).get("previous_attributes"))
        )
    charge = obj.get("charge")
    draft.charge_id = expandable_id(charge)
    draft.payment_intent_id = expandable_id(obj.get("payment_intent")) or expandable_id(
        as_dict(charge).get("payment_intent")
    )
    draft.fact("Status", _words(status))
    draft.fact("Reason", _words(obj.get("reason")))
    arn = as_str(
        as_dict(as_dict(obj.get("destination_details")).get("card")).get("reference")
    )
    draft.fact("ARN", f"`{escape(arn)}`" if arn else None)
    if isinstance(charge, dict):
        _add_people(draft, charge, live)
    _add_common_details(draft, obj)
    return draft


def _payout(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], live: bool, now: float
) -> _Draft:
    payout_id = as_str(obj.get("id")) or "unknown payout"
    if event_type == "payout.failed":
        draft = _Draft(":x:", "Payout failed", "payout", payout_id, _money(obj))
        draft.detail(
            "Why it failed",
            _failure(obj.get("failure_message"), obj.get("failure_code")),
        )
    elif event_type == "payout.paid":
        draft = _Draft(":bank:", "Payout paid", "payout", payout_id, _money(obj))
    else:
        draft = _Draft(":bank:", "Payout created", "payout", payout_id, _money(obj))
    draft.fact("Status", _words(obj.get("status")))
    arrival = as_int(obj.get("arrival_date"))
    if arrival:
        draft.fact("Arrival", date_token(arrival, "{date_short_pretty}"))
    # An ID, the expanded account, or (payouts shaped as transfers, before
    # 2017-04-06) the account in `bank_account`.
    destination = shapes.payout_destination(obj)
    shown = [f"`{escape(destination.id)}`"] if destination.id else []
    if destination.label:
        shown.append(clip(destination.label, 100))
    draft.fact("Destination", " ".join(shown) if shown else None)
    draft.fact("Method", _words(obj.get("method")))
    descriptor = as_str(obj.get("statement_descriptor"))
    draft.fact("Statement descriptor", clip(descriptor, 200) if descriptor else None)
    _add_common_details(draft, obj)
    return draft


def _early_fraud_warning(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], live: bool, now: float
) -> _Draft:
    charge = obj.get("charge")
    draft = _Draft(
        ":rotating_light:",
        "Early fraud warning",
        "early fraud warning",
        as_str(obj.get("id")) or "unknown warning",
        # The warning has no amount of its own; an expanded charge does.
        _money(as_dict(charge)),
    )
    draft.charge_id = expandable_id(charge)
    draft.payment_intent_id = expandable_id(obj.get("payment_intent")) or expandable_id(
        as_dict(charge).get("payment_intent")
    )
    draft.dashboard_id = draft.charge_id or draft.payment_intent_id
    draft.fact("Fraud type", _words(obj.get("fraud_type")))
    actionable = obj.get("actionable")
    if actionable is True:
        draft.fact("Actionable", "yes: refunding now can head off a dispute")
    elif actionable is False:
        draft.fact("Actionable", "no")
    if isinstance(charge, dict):
        _add_people(draft, charge, live)
    return draft


def _dispute(
    event_type: str, obj: dict[str, Any], ev: dict[str, Any], live: bool, now: float
) -> _Draft:
    dispute_id = as_str(obj.get("id")) or "unknown dispute"
    status = as_str(obj.get("status")) or ""
    inquiry = status.startswith("warning_")
    noun = "Inquiry" if inquiry else "Dispute"
    amount = _money(obj)
    if event_type == "charge.dispute.created":
        draft = _Draft(
            ":rotating_light:", f"{noun} opened", "dispute", dispute_id, amount
        )
    elif event_type == "charge.dispute.closed":
        if status == "won":
            draft = _Draft(":trophy:", "Dispute won", "dispute", dispute_id, amount)
        elif status == "lost":
            draft = _Draft(":x:", "Dispute lost", "dispute", dispute_id, amount)
        else:
            draft = _Draft(":lock:", f"{noun} closed", "dispute", dispute_id, amount)
    elif event_type == "charge.dispute.funds_withdrawn":
        draft = _Draft(
            ":money_with_wings:",
            "Dispute funds withdrawn",
            "dispute",
            dispute_id,
            amount,
        )
    elif event_type == "charge.dispute.funds_reinstated":
        draft = _Draft(
            ":moneybag:", "Dispute funds reinstated", "dispute", dispute_id, amount
        )
    else:
        draft = _Draft(":pencil2:", f"{noun} updated", "dispute", dispute_id, amount)
        _add_changes(
            draft, obj, as_dict(as_dict(ev.get("data")).get("previous_attributes"))
        )
    charge = obj.get("charge")
    draft.charge_id = expandable_id(charge)
    draft.payment_intent_id = expandable_id(obj.get("payment_intent")) or expandable_id(
        as_dict(charge).get("payment_intent")
    )
    draft.fact("Status", _words(status))
    draft.fact("Reason", _words(obj.get("reason")))
    reason_code = shapes.dispute_network_reason_code(obj)
    draft.fact(
        "Network reason code", f"`{escape(reason_code)}`" if reason_code else None
    )
    if status not in _CLOSED_DISPUTE_STATUSES:
        _add_deadline(draft, obj, now)
    if isinstance(charge, dict):
        _add_people(draft, charge, live)
    _add_common_details(draft, obj)
    return draft


def _add_deadline(draft: _Draft, obj: dict[str, Any], now: float) -> None:
    # `evidence_details.due_by`, or `evidence_due_by` before 2014-12-08.
    due_by = shapes.dispute_due_by(obj)
    if not due_by:
        draft.fact("Respond by", "no response possible: the bank allows no response")
        draft.summary_extra.append("the bank allows no response")
        return
    # Time left from now, as the card and reminders count it: the event may be
    # processed long after Stripe made it (a backlog, a retry).
    when = date_token(due_by)
    draft.fact("Respond by", f"{when} ({time_left(due_by, now)})")
    draft.summary_extra.append(f"respond by {when}")
    state = shapes.dispute_evidence_state(obj)
    draft.fact(
        "Evidence",
        "submitted"
        if state.submission_count
        else ("saved, not submitted" if state.has_evidence else "none"),
    )


_BUILDERS: dict[str, _Builder] = {
    "charge": _charge,
    "payment_intent": _payment_intent,
    "refund": _refund,
    "charge.refund": _refund,
    "payout": _payout,
    "radar.early_fraud_warning": _early_fraud_warning,
    "charge.dispute": _dispute,
}


def _builder_for(event_type: str) -> _Builder:
    prefix = event_type.rsplit(".", 1)[0]
    return _BUILDERS[prefix]


# --- layout --------------------------------------------------------------------


def _render(draft: _Draft, event: dict[str, Any], obj: dict[str, Any]) -> Alert:
    event_type = str(event["type"])
    live = _livemode(event, obj)
    target = draft.dashboard_id or draft.object_id
    url = dashboard_url(target, livemode=live)
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
        f"{draft.kind} {_id_link(draft.object_id, live)}",
    ]
    lines = [" · ".join(part for part in headline if part)]
    if related:
        lines.append(
            " · ".join(f"{label} {_id_link(oid, live)}" for label, oid in related)
        )
    lines.append(link(url, "Open in the Stripe Dashboard"))

    blocks = [
        header(f"{draft.emoji} {draft.title}"),
        section("\n".join(lines)),
    ]
    if draft.facts:
        blocks.append(section(fields=draft.facts))
    if draft.details:
        blocks.append(section("\n".join(draft.details)))

    created = as_int(obj.get("created")) or as_int(event.get("created"))
    event_id = as_str(event.get("id"))
    footer = [date_token(created)] if created else []
    if event_id:
        footer.append(f"Event {_id_link(event_id, live)}")
    if not live:
        footer.append(":test_tube: Test mode")
    if footer:
        blocks.append(context(" · ".join(footer)))

    return Alert(
        group=ALERT_GROUPS[event_type],
        text=_text(draft, related),
        summary=_summary(draft, related, url, event_id),
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


def _text(draft: _Draft, related: list[tuple[str, str]]) -> str:
    text = draft.title
    if draft.amount:
        text += f": {draft.amount}"
    if related:
        text += f" on {escape(related[0][1])}"
    text += f" ({escape(draft.object_id)})"
    return truncate(one_line(text), SECTION_TEXT_MAX)


def _summary(
    draft: _Draft, related: list[tuple[str, str]], url: str, event_id: str | None
) -> str:
    parts = [f"{draft.emoji} *{draft.title}* {_code(draft.object_id)}"]
    parts.extend(
        f"{'charge' if label == 'Charge' else 'PI'} {_code(oid)}"
        for label, oid in related
    )
    if draft.amount:
        parts.append(f"*{draft.amount}*")
    parts.extend(draft.summary_extra)
    if event_id:
        parts.append(f"event {_code(event_id)}")
    parts.append(link(url, "Dashboard"))
    return truncate(one_line(" · ".join(parts)), SECTION_TEXT_MAX)


def build_alert(event: dict[str, Any], *, now: float) -> Alert | None:
    """The alert for one Stripe event, or None for types we do not alert on;
    `now` is when it is processed (deadlines count down from it)."""
    event_type = event.get("type")
    if not isinstance(event_type, str) or event_type not in ALERTED_EVENT_TYPES:
        return None
    obj = as_dict(as_dict(event.get("data")).get("object"))
    live = _livemode(event, obj)
    draft = _builder_for(event_type)(event_type, obj, event, live, now)
    return _render(draft, event, obj)


def build_digest(
    summaries: list[str], *, total: int | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """One message naming every event of a storm: (fallback text, blocks).

    `total` is how many events the storm had, when this message shows only some.
    """
    if not summaries:
        raise ValueError("a digest needs at least one summary")
    if len(summaries) > DIGEST_MAX_ITEMS:
        raise ValueError(
            f"a digest holds at most {DIGEST_MAX_ITEMS} summaries, got {len(summaries)}"
        )
    count = len(summaries) if total is None else total
    if count < len(summaries):
        raise ValueError(f"total {count} is less than the {len(summaries)} summaries")

    chunks: list[str] = []
    current = ""
    for summary in summaries:
        line = truncate(one_line(summary), SECTION_TEXT_MAX)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > SECTION_TEXT_MAX:
            chunks.append(current)
            candidate = line
        current = candidate
    chunks.append(current)

    title = f"{count} Stripe event" if count == 1 else f"{count} Stripe events"
    blocks = [header(f":bell: {title}"), *(section(chunk) for chunk in chunks)]
    if count > len(summaries):
        blocks.append(context(f"Showing {len(summaries)} of {count} events here."))
    if len(blocks) > MESSAGE_BLOCKS_MAX:  # unreachable given DIGEST_MAX_ITEMS
        raise ValueError("digest does not fit in one message")
    return title, blocks
