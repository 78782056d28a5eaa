"""Words for why a dispute action is refused (the cases are in
`bot.dispute_refusals`), escaped here."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks import Place, date_token, escape, link
from bot.blocks.dispute_parts import mention, words
from bot.dispute_refusals import (
    NoDisputeNamed,
    NotAnswerable,
    NotClaimed,
    OnlyManagersAccept,
    OnlySupportAnswers,
    OtherMode,
    UnknownDispute,
)
from bot.refusals import DisputeRefused
from storage.dispute_status import ANSWERABLE, UNDER_REVIEW
from storage.models import Dispute

NOT_A_DISPUTE = (
    "This button does not name a dispute I can look up, so nothing was done. "
    "Use `/stripe dispute dp_…` to get the dispute with working buttons."
)
# A modal whose private_metadata no longer names its dispute.
FORM_LOST = (
    "This form no longer says which dispute it is for, so I can't use it. "
    "Nothing was saved, submitted or accepted. Close it and open the dispute "
    "again from its card or with `/stripe dispute dp_…`."
)
LOOKUP_USAGE = (
    "Give a dispute, charge or PaymentIntent ID: `/stripe dispute dp_…`, "
    "`/stripe dispute ch_…` or `/stripe dispute pi_…`."
)


def dispute_refusal_text(refused: DisputeRefused) -> str:
    """What the person who asked reads, escaped here."""
    match refused:
        case NoDisputeNamed():
            return NOT_A_DISPUTE
        case UnknownDispute(dispute_id=dispute_id):
            return unknown_dispute(dispute_id)
        case NotAnswerable(row=row):
            return answer_blocked(row) or "This dispute is closed."
        case NotClaimed(dispute_id=dispute_id, user_id=user_id, answer=answer):
            return (
                f"Dispute `{escape(dispute_id)}` is not claimed for {escape(answer)} "
                f"by {mention(user_id)}, so nothing was sent to Stripe."
            )
        case OnlyManagersAccept(managers=managers, usergroup=usergroup):
            return only_managers(managers, usergroup)
        case OnlySupportAnswers():
            return ONLY_SUPPORT
        case OtherMode(row=row):
            mode, key = ("live", "test") if row.livemode else ("test", "live")
            url = Place(row.livemode, row.account).url(row.id)
            return (
                f"Dispute `{escape(row.id)}` is a {mode}-mode dispute and stripe-ops "
                f"runs with a {key}-mode key, which cannot act on it, so nothing was "
                f"sent to Stripe. Answer it {link(url, 'in the Stripe Dashboard')}."
            )
        case _:
            raise TypeError(f"no words for {type(refused).__name__}")


ONLY_SUPPORT = (
    "Only the support team can work on disputes. Ask an admin to add you to "
    "SUPPORT_USER_IDS or the support user group."
)


def only_managers(managers: Sequence[str], usergroup: str | None) -> str:
    """Why someone may not accept a dispute, and who to ask instead."""
    who = [mention(u) for u in managers]
    if usergroup:
        who.append(f"<!subteam^{escape(usergroup)}>")
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


def no_such_dispute(object_id: str) -> str:
    """`/stripe dispute` for an ID Stripe does not know."""
    return f"Stripe has no dispute `{escape(object_id)}`."


def no_dispute_on(object_id: str) -> str:
    """`/stripe dispute` for a payment that has no dispute."""
    return f"No dispute on `{escape(object_id)}`."
