"""Dispute messages in the card's thread: who took it, saved, submitted,
accepted; deadline reminders; why a Stripe call did not finish."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import stripe

from bot.blocks import (
    SECTION_TEXT_MAX,
    date_token,
    escape,
    section,
    time_left,
    truncate,
)
from bot.blocks.dispute_parts import (
    amount,
    mention,
    missing_text,
    stripe_error,
    words,
)
from bot.evidence_fields import EvidenceField
from bot.money import format_amount
from storage.dispute_reminders import PAST_DUE, ReminderCandidate
from storage.models import Dispute


def stripe_failed(exc: stripe.StripeError, what: str, *, may_have_acted: bool) -> str:
    """Why a submission or acceptance did not finish, and what happens next."""
    if may_have_acted:
        return (
            f":hourglass_flowing_sand: Stripe did not answer ({stripe_error(exc)}). "
            f"stripe-ops sends {what} again shortly with the same idempotency key, "
            "so it cannot happen twice."
        )
    return (
        f":x: Stripe refused {what}: {stripe_error(exc)} Nothing changed; you can "
        "try again."
    )


def plain_section(text: str) -> dict[str, Any]:
    """What `section(text)` returns, built directly: a scan may write ten
    thousand reminders, and slack_sdk's model validation is most of that time."""
    return {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": truncate(text, SECTION_TEXT_MAX),
            "verbatim": True,
        },
    }


def note_blocks(text: str) -> list[dict[str, Any]]:
    return [section(text)]


def taken_note(user_id: str, previous: str | None) -> str:
    if previous:
        return (
            f":raising_hand: {mention(user_id)} took this dispute over from "
            f"{mention(previous)}."
        )
    return f":raising_hand: {mention(user_id)} took this dispute."


def saved_note(user_id: str, fields: Sequence[EvidenceField], d: Dispute) -> str:
    names = ", ".join(escape(f.label) for f in fields)
    return (
        f":pencil: {mention(user_id)} saved evidence on Stripe (not submitted yet): "
        f"{names}."
    )


def submitted_note(d: Dispute) -> str:
    who = mention(d.submitted_by) if d.submitted_by else "someone"
    when = date_token(int(d.submitted_at)) if d.submitted_at else "just now"
    return (
        f":outbox_tray: Evidence submitted to Stripe by {who} {when}. The bank "
        "decides now; nobody can change the evidence any more."
    )


def accepted_note(d: Dispute) -> str:
    who = mention(d.accepted_by) if d.accepted_by else "someone"
    when = date_token(int(d.accepted_at)) if d.accepted_at else "just now"
    return (
        f":white_flag: {who} accepted this dispute {when}: {amount(d)} stays with "
        f"the cardholder. Stripe closed it as {words(d.status)}."
    )


def reminder(
    c: ReminderCandidate, *, missing: Sequence[EvidenceField], now: float
) -> tuple[str, list[dict[str, Any]]]:
    """A deadline reminder for the dispute's thread: (text, blocks)."""
    money = escape(format_amount(c.amount, c.currency or "usd"))
    owner = mention(c.taken_by) + " " if c.taken_by else ""
    what = f"`{escape(c.id)}` ({money}, {words(c.reason)})"
    if c.stage == PAST_DUE:
        head = (
            f"{owner}:warning: The deadline to answer dispute {what} passed "
            f"{date_token(c.due_by)} ({time_left(c.due_by, now)}) and no "
            "evidence was submitted."
        )
    else:
        head = (
            f"{owner}:alarm_clock: Dispute {what} is due "
            f"{time_left(c.due_by, now)}: respond by {date_token(c.due_by)}."
        )
    if c.stage == PAST_DUE:
        rest = "Stripe will most likely close it as lost."
    else:
        rest = missing_text(missing)
        rest += (
            " Press *Submit evidence* on the alert when it is complete."
            if c.taken_by
            else " Nobody has taken this dispute yet: press *Take* on the alert."
        )
    return truncate(f"{head} {rest}", SECTION_TEXT_MAX), [
        plain_section(f"{head}\n{rest}")
    ]
