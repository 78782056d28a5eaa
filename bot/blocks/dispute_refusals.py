"""Words for why a dispute action is refused (the cases are in bot.disputes)."""

from __future__ import annotations

from bot.blocks import date_token, escape
from bot.blocks.dispute_parts import mention, words
from bot.config import Settings
from bot.refusals import DisputeRefused
from storage.dispute_status import ANSWERABLE, UNDER_REVIEW
from storage.models import Dispute


def dispute_refusal_text(refused: DisputeRefused) -> str:
    """What the person who asked reads, escaped here."""
    match refused:
        case _:
            raise TypeError(f"no words for {type(refused).__name__}")


ONLY_SUPPORT = (
    "Only the support team can work on disputes. Ask an admin to add you to "
    "SUPPORT_USER_IDS or the support user group."
)


def only_managers(settings: Settings) -> str:
    """Why someone may not accept a dispute, and who to ask instead."""
    who = [mention(u) for u in settings.MANAGER_USER_IDS]
    if settings.MANAGER_USERGROUP:
        who.append(f"<!subteam^{escape(settings.MANAGER_USERGROUP)}>")
    ask = f" Ask {' or '.join(who)}." if who else ""
    return (
        "Only managers can accept a dispute: it gives the money to the cardholder "
        f"and cannot be undone.{ask}"
    )


def unknown_dispute(dispute_id: str) -> str:
    return (
        f"stripe-ops does not know dispute `{escape(dispute_id)}`. "
        f"`/stripe dispute {escape(dispute_id)}` loads it from Stripe."
    )


def answer_blocked(d: Dispute) -> str | None:
    """Why evidence can no longer be changed or submitted; None if it can."""
    if d.submitted_by:
        when = f" {date_token(int(d.submitted_at))}" if d.submitted_at else ""
        return (
            f"Evidence was already submitted by {mention(d.submitted_by)}{when}. "
            "Stripe takes one submission per dispute."
        )
    if d.accepted_by:
        when = f" {date_token(int(d.accepted_at))}" if d.accepted_at else ""
        return f"{mention(d.accepted_by)} already accepted this dispute{when}."
    if d.submission_count or d.status in UNDER_REVIEW:
        return (
            "Evidence was already submitted (in the Stripe Dashboard); the bank is "
            "reviewing it."
        )
    if d.status not in ANSWERABLE:
        return f"This dispute is closed: {words(d.status)}."
    return None
