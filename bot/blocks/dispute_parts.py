"""Small pieces every dispute message is built from: amounts, people, deadlines,
Stripe's words, the evidence checklist.

Everything from Stripe or a person is escaped here (`escape`/`clip`); user
mentions are built only from Slack user IDs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import stripe

from bot.blocks import (
    clip,
    dashboard_url,
    date_token,
    escape,
    link,
    one_line,
    time_left,
)
from bot.evidence_fields import Checklist, EvidenceField
from bot.money import format_amount
from bot.stripe_api import describe_error
from storage.models import Dispute

_VALUE_SHOWN = 300


def stripe_error(exc: stripe.StripeError) -> str:
    """What Stripe said, escaped: its messages can quote what someone typed."""
    return escape(describe_error(exc))


def mention(user_id: str) -> str:
    return f"<@{escape(user_id)}>"


def words(code: str | None) -> str:
    """A Stripe enum value as escaped words: "not_received" -> "not received"."""
    return escape((code or "unknown").replace("_", " "))


def amount(d: Dispute) -> str:
    return escape(format_amount(d.amount, d.currency or "usd"))


def dispute_link(d: Dispute, object_id: str) -> str:
    """An ID the dispute names, linked where the dispute lives."""
    return id_link(object_id, d.livemode, d.account)


def id_link(object_id: str, livemode: bool, account: str | None = None) -> str:
    return link(dashboard_url(object_id, livemode=livemode, account=account), object_id)


def deadline(d: Dispute, *, now: float) -> str:
    if not d.due_by:
        return "no response possible: the bank allows no response"
    return f"{date_token(d.due_by)} ({time_left(d.due_by, now)})"


def checklist_text(reason: str, checklist: Checklist) -> str:
    lines = [f"*Evidence checklist* for _{words(reason)}_"]
    lines += [
        f"{':white_check_mark:' if ok else ':white_large_square:'} {escape(f.label)}"
        for f, ok in checklist
    ]
    return "\n".join(lines)


def missing_text(missing: Sequence[EvidenceField]) -> str:
    return _missing_text(tuple(missing))


@functools.lru_cache(maxsize=1024)
def _missing_text(missing: tuple[EvidenceField, ...]) -> str:
    # Cached: a scan words the same few combinations for thousands of disputes.
    if not missing:
        return "Every recommended field is filled."
    return "Still missing: " + ", ".join(escape(f.label) for f in missing) + "."


def evidence_so_far(d: Dispute, fields: Mapping[str, EvidenceField]) -> str | None:
    """What Stripe holds as evidence now, one line per field."""
    lines = []
    for name, value in d.stripe_evidence.items():
        f = fields.get(name)
        if f is None or not value:
            continue
        if f.is_file:
            attached = d.evidence_files.get(name) or {}
            shown = (
                clip(attached["name"], 200)
                if attached.get("id") == value and attached.get("name")
                else f"`{escape(value)}`"
            )
        else:
            shown = clip(one_line(str(value)), _VALUE_SHOWN)
        lines.append(f"• *{escape(f.label)}:* {shown}")
    if not lines:
        return None
    return "*Evidence on Stripe so far*\n" + "\n".join(lines)
