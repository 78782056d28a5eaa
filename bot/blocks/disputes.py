"""Block Kit for disputes: the alert card, `/stripe dispute` and `/stripe disputes`.

Pure functions of rows and plain values, escaped once (the pieces are in
`dispute_parts`). Thread notes and reminders are in `dispute_notes`, modals in
`dispute_modals`, refusals in `dispute_refusals`; their names are importable
from here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.blocks import (
    SECTION_TEXT_MAX,
    Place,
    clip,
    context,
    date_token,
    escape,
    header,
    one_line,
    open_in_stripe,
    open_in_stripe_button,
    section,
    truncate,
)
from bot.blocks.dispute_modals import (
    FILE_TYPES,
    INPUT_MAX,
    VIEW_ACCEPT,
    VIEW_EVIDENCE,
    VIEW_SUBMIT,
    accept_modal,
    evidence_modal,
    evidence_not_taken,
    info_modal,
    input_block_id,
    loading_modal,
    prefill_failed,
    saved_modal,
    submit_modal,
)
from bot.blocks.dispute_notes import (
    accepted_note,
    note_blocks,
    reminder,
    saved_note,
    stripe_failed,
    submitted_note,
    taken_note,
)
from bot.blocks.dispute_parts import (
    amount,
    checklist_text,
    deadline,
    dispute_link,
    evidence_so_far,
    mention,
    missing_text,
    stripe_error,
    words,
)
from bot.blocks.dispute_refusals import (
    FORM_LOST,
    LOOKUP_USAGE,
    ONLY_SUPPORT,
    answer_blocked,
    no_dispute_on,
    no_such_dispute,
    only_managers,
    unknown_dispute,
)
from bot.blocks.modes import mode_mismatch, place_lines
from bot.blocks.refusals import NO_MODAL
from bot.evidence_fields import (
    Checklist,
    EvidenceField,
)
from storage.dispute_status import ANSWERABLE, UNDER_REVIEW, is_answerable
from storage.models import Dispute

__all__ = [
    "FILE_TYPES",
    "FORM_LOST",
    "INPUT_MAX",
    "LOOKUP_USAGE",
    "NO_MODAL",
    "ONLY_SUPPORT",
    "VIEW_ACCEPT",
    "VIEW_EVIDENCE",
    "VIEW_SUBMIT",
    "Checklist",
    "accept_modal",
    "accepted_note",
    "amount",
    "answer_blocked",
    "deadline",
    "evidence_modal",
    "evidence_not_taken",
    "info_modal",
    "input_block_id",
    "loading_modal",
    "missing_text",
    "no_dispute_on",
    "no_such_dispute",
    "note_blocks",
    "only_managers",
    "prefill_failed",
    "reminder",
    "saved_modal",
    "saved_note",
    "stripe_error",
    "stripe_failed",
    "submit_modal",
    "submitted_note",
    "taken_note",
    "unknown_dispute",
]

ACTION_EDIT = "dispute_edit"
ACTION_SUBMIT = "dispute_submit"
ACTION_ACCEPT = "dispute_accept"
ACTION_TAKE = "dispute_take"
ACTIONS_BLOCK = "dispute_actions"

LIST_MAX = 25


def _title(d: Dispute) -> str:
    noun = "Inquiry" if d.status.startswith("warning_") else "Dispute"
    if d.status in ANSWERABLE:
        if d.accepted_by:
            return f":hourglass_flowing_sand: {noun} being accepted"
        if d.submitted_by:
            return f":hourglass_flowing_sand: {noun}: evidence being submitted"
        return f":rotating_light: {noun}: response needed"
    if d.status in UNDER_REVIEW:
        return f":hourglass_flowing_sand: {noun} under review"
    return {
        "won": ":trophy: Dispute won",
        "lost": ":white_flag: Dispute accepted (lost)"
        if d.accepted_by
        else ":x: Dispute lost",
        "warning_closed": ":lock: Inquiry closed",
        "prevented": ":shield: Dispute prevented",
    }.get(d.status, f":grey_question: {noun}: {d.status.replace('_', ' ')}")


def _customer(d: Dispute) -> str | None:
    parts = []
    if d.customer_id:
        parts.append(dispute_link(d, d.customer_id))
    if d.customer_name:
        parts.append(clip(one_line(d.customer_name), 200))
    if d.customer_email:
        parts.append(clip(d.customer_email, 200))
    return "\n".join(parts) or None


def _evidence_state(d: Dispute, checklist: Checklist) -> str:
    if d.submitted_by:
        when = f" {date_token(int(d.submitted_at))}" if d.submitted_at else ""
        done = "submitted" if d.submission_count else "being submitted"
        return f"{done} by {mention(d.submitted_by)}{when}"
    if d.submission_count:
        return "submitted (in the Stripe Dashboard)"
    filled = sum(1 for _, ok in checklist if ok)
    return f"{filled} of {len(checklist)} recommended fields filled"


def buttons(d: Dispute) -> dict[str, Any]:
    value = d.id
    return ActionsBlock(
        block_id=ACTIONS_BLOCK,
        elements=[
            ButtonElement(
                text="Edit evidence",
                action_id=ACTION_EDIT,
                value=value,
                style="primary",
            ),
            ButtonElement(text="Submit evidence", action_id=ACTION_SUBMIT, value=value),
            ButtonElement(
                text="Accept dispute",
                action_id=ACTION_ACCEPT,
                value=value,
                style="danger",
            ),
            ButtonElement(
                text="Take over" if d.taken_by else "Take",
                action_id=ACTION_TAKE,
                value=value,
            ),
            open_in_stripe_button(Place(d.livemode, d.account).url(d.id)),
        ],
    ).to_dict()


# -- the card (alert message, and /stripe dispute) --------------------------------


def dispute_card(
    d: Dispute,
    *,
    checklist: Checklist,
    now: float,
    event_id: str | None = None,
    key_live: bool | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The dispute as one message: (fallback text, blocks).

    `key_live`: the mode of the bot's key; a dispute in the other mode gets no
    buttons that would call Stripe, only the link to it. A Connect dispute
    names its connected account (by the name stored with it, when known).
    """
    live = Place(d.livemode, d.account)
    title = _title(d)
    lines = [f"*{amount(d)}* · dispute {live.link(d.id)}"]
    related = [
        f"{label} {live.link(oid)}"
        for label, oid in (
            ("Charge", d.charge_id),
            ("PaymentIntent", d.payment_intent_id),
        )
        if oid
    ]
    if related:
        lines.append(" · ".join(related))
    lines.extend(place_lines(live, key_live=key_live, account_name=d.account_name))

    open_case = d.status in ANSWERABLE or d.status in UNDER_REVIEW
    facts = [f"*Status*\n{words(d.status)}", f"*Reason*\n{words(d.reason)}"]
    customer = _customer(d)
    if customer:
        facts.append(f"*Customer*\n{customer}")
    if d.status in ANSWERABLE and not d.submission_count:
        facts.append(f"*Respond by*\n{deadline(d, now=now)}")
    if d.taken_by:
        facts.append(f"*Taken by*\n{mention(d.taken_by)}")
    elif d.status in ANSWERABLE:
        facts.append("*Taken by*\nnobody yet")
    if open_case or d.submitted_by or d.submission_count:
        facts.append(f"*Evidence*\n{_evidence_state(d, checklist)}")
    if d.accepted_by:
        when = f" {date_token(int(d.accepted_at))}" if d.accepted_at else ""
        facts.append(f"*Accepted*\nby {mention(d.accepted_by)}{when}")

    blocks = [header(title), section("\n".join(lines)), section(fields=facts)]
    if open_case and checklist:
        blocks.append(section(checklist_text(d.reason, checklist)))
    if is_answerable(d) and not mode_mismatch(d.livemode, key_live=key_live):
        blocks.append(buttons(d))
    else:
        blocks.append(open_in_stripe(live.url(d.id), block_id=ACTIONS_BLOCK))
    footer = []
    if d.created:
        footer.append(f"Opened {date_token(d.created)}")
    footer.append(f"Updated {date_token(int(now))}")
    if event_id:
        footer.append(f"Event {live.link(event_id)}")
    if not d.livemode:
        footer.append(":test_tube: Test mode")
    blocks.append(context(" · ".join(footer)))

    text = f"{title.split(' ', 1)[1]}: {amount(d)} ({escape(d.id)})"
    if d.status in ANSWERABLE and d.due_by and not d.submission_count:
        text += f", respond by {date_token(d.due_by)}"
    return truncate(one_line(text), SECTION_TEXT_MAX), blocks


def lookup_reply(
    cards: Sequence[tuple[Dispute, Checklist]],
    fields: Mapping[str, EvidenceField],
    *,
    now: float,
    key_live: bool | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """`/stripe dispute`: each dispute's card and the evidence it has."""
    blocks: list[dict[str, Any]] = []
    texts = []
    for d, checklist in cards:
        text, card = dispute_card(d, checklist=checklist, now=now, key_live=key_live)
        texts.append(text)
        so_far = evidence_so_far(d, fields)
        if so_far:
            # Before the buttons and footer, so the card reads top to bottom.
            card.insert(len(card) - 2, section(so_far))
        blocks += card
    return " / ".join(texts), blocks


# Until the first full read of Stripe's disputes has finished, an empty list
# says nothing: a fresh deployment has simply not read them yet.
STILL_READING = (
    ":hourglass_flowing_sand: I'm still reading the open disputes from Stripe "
    "(the first read since the bot was deployed). Try again in a minute."
)
STILL_READING_MORE = (
    "Still reading the open disputes from Stripe: more may appear in a minute."
)


def dispute_list(
    items: Sequence[tuple[Dispute, Checklist]],
    *,
    total: int,
    in_review: int,
    now: float,
    synced: bool = True,
) -> tuple[str, list[dict[str, Any]]]:
    """`/stripe disputes`: the disputes waiting for an answer, soonest first."""
    if not items and not synced:
        return STILL_READING, [section(STILL_READING)]
    if not items:
        text = "No dispute is waiting for an answer."
        if in_review:
            text += f" {in_review} under review with the bank."
        return text, [section(text)]
    lines = []
    for d, checklist in items:
        filled = sum(1 for _, ok in checklist if ok)
        owner = mention(d.taken_by) if d.taken_by else "nobody"
        evidence = (
            "being submitted"
            if d.submitted_by
            else f"evidence {filled}/{len(checklist)}"
        )
        lines.append(
            f"• *{amount(d)}* {dispute_link(d, d.id)} · {words(d.reason)} · "
            f"respond by {deadline(d, now=now)} · taken by {owner} · {evidence}"
        )
    title = f"Disputes waiting for an answer ({total})"
    blocks = [header(f":rotating_light: {title}")]
    chunk = ""
    for line in lines:
        candidate = f"{chunk}\n{line}" if chunk else line
        if len(candidate) > SECTION_TEXT_MAX:
            blocks.append(section(chunk))
            candidate = line
        chunk = candidate
    blocks.append(section(chunk))
    notes = []
    if total > len(items):
        notes.append(f"{total - len(items)} more not shown.")
    if in_review:
        notes.append(f"{in_review} under review with the bank.")
    if not synced:
        notes.append(STILL_READING_MORE)
    notes.append("`/stripe dispute dp_…` shows one with its buttons.")
    blocks.append(context(" ".join(notes)))
    return title, blocks
