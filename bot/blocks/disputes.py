"""Block Kit for disputes: the alert card, lists, modals, thread notes, reminders.

Pure functions of rows and plain values. Everything from Stripe or a person is
escaped here (`escape`/`clip`); user mentions are built only from Slack user IDs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import stripe
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    InputBlock,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.blocks import (
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
from bot.blocks.alerts import Alert
from bot.config import Settings
from bot.evidence_fields import Checklist, EvidenceField
from bot.money import format_amount
from bot.stripe_api import describe_error
from storage.dispute_reminders import PAST_DUE, ReminderCandidate
from storage.dispute_status import ANSWERABLE, UNDER_REVIEW, is_answerable
from storage.models import Dispute

__all__ = ["Checklist"]  # bot.blocks.home reads it from here

ACTION_EDIT = "dispute_edit"
ACTION_SUBMIT = "dispute_submit"
ACTION_ACCEPT = "dispute_accept"
ACTION_TAKE = "dispute_take"
ACTIONS_BLOCK = "dispute_actions"

VIEW_EVIDENCE = "dispute_evidence"
VIEW_SUBMIT = "dispute_submit_confirm"
VIEW_ACCEPT = "dispute_accept_confirm"

# Slack's limit for plain_text_input values.
INPUT_MAX = 3000
FILE_TYPES = ["pdf", "jpg", "jpeg", "png"]
LIST_MAX = 25
_VALUE_SHOWN = 300


def input_block_id(field_name: str) -> str:
    return f"ev_{field_name}"


# -- small pieces ------------------------------------------------------------------


def stripe_error(exc: stripe.StripeError) -> str:
    """What Stripe said, escaped: its messages can quote what someone typed."""
    return escape(describe_error(exc))


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


def mention(user_id: str) -> str:
    return f"<@{escape(user_id)}>"


def words(code: str | None) -> str:
    """A Stripe enum value as escaped words: "not_received" -> "not received"."""
    return escape((code or "unknown").replace("_", " "))


def amount(d: Dispute) -> str:
    return escape(format_amount(d.amount, d.currency or "usd"))


def _id_link(object_id: str, livemode: bool) -> str:
    return link(dashboard_url(object_id, livemode=livemode), object_id)


def deadline(d: Dispute, *, now: float) -> str:
    if not d.due_by:
        return "no response possible: the bank allows no response"
    return f"{date_token(d.due_by)} ({time_left(d.due_by, now)})"


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
        parts.append(_id_link(d.customer_id, d.livemode))
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
        ],
    ).to_dict()


# -- the card (alert message, and /stripe dispute) --------------------------------


def dispute_card(
    d: Dispute, *, checklist: Checklist, now: float, event_id: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The dispute as one message: (fallback text, blocks)."""
    live = d.livemode
    title = _title(d)
    lines = [f"*{amount(d)}* · dispute {_id_link(d.id, live)}"]
    related = [
        f"{label} {_id_link(oid, live)}"
        for label, oid in (
            ("Charge", d.charge_id),
            ("PaymentIntent", d.payment_intent_id),
        )
        if oid
    ]
    if related:
        lines.append(" · ".join(related))
    lines.append(
        link(dashboard_url(d.id, livemode=live), "Open in the Stripe Dashboard")
    )

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
    if is_answerable(d):
        blocks.append(buttons(d))
    footer = []
    if d.created:
        footer.append(f"Opened {date_token(d.created)}")
    footer.append(f"Updated {date_token(int(now))}")
    if event_id:
        footer.append(f"Event {_id_link(event_id, live)}")
    if not live:
        footer.append(":test_tube: Test mode")
    blocks.append(context(" · ".join(footer)))

    text = f"{title.split(' ', 1)[1]}: {amount(d)} ({escape(d.id)})"
    if d.status in ANSWERABLE and d.due_by and not d.submission_count:
        text += f", respond by {date_token(d.due_by)}"
    return truncate(one_line(text), SECTION_TEXT_MAX), blocks


def dispute_alert(
    d: Dispute, *, checklist: Checklist, now: float, event_id: str | None
) -> Alert:
    text, blocks = dispute_card(d, checklist=checklist, now=now, event_id=event_id)
    summary = f"{_title(d)} `{escape(d.id)}` · *{amount(d)}* · {words(d.reason)}"
    return Alert(group="disputes", text=text, summary=summary, blocks=blocks)


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


def lookup_reply(
    cards: Sequence[tuple[Dispute, Checklist]],
    fields: Mapping[str, EvidenceField],
    *,
    now: float,
) -> tuple[str, list[dict[str, Any]]]:
    """`/stripe dispute`: each dispute's card and the evidence it has."""
    blocks: list[dict[str, Any]] = []
    texts = []
    for d, checklist in cards:
        text, card = dispute_card(d, checklist=checklist, now=now)
        texts.append(text)
        so_far = evidence_so_far(d, fields)
        if so_far:
            # Before the buttons and footer, so the card reads top to bottom.
            card.insert(len(card) - (2 if is_answerable(d) else 1), section(so_far))
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
            f"• *{amount(d)}* {_id_link(d.id, d.livemode)} · {words(d.reason)} · "
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


# -- thread notes and reminders ---------------------------------------------------


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


# -- refusals ----------------------------------------------------------------------

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


# -- modals ------------------------------------------------------------------------


def _modal(
    *,
    title: str,
    blocks: list[dict[str, Any]],
    callback_id: str | None = None,
    private_metadata: str | None = None,
    submit: str | None = None,
    close: str = "Close",
) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=callback_id,
        private_metadata=private_metadata,
        title=title,
        submit=submit,
        close=close,
        blocks=blocks,
    ).to_dict()


def loading_modal(title: str, text: str) -> dict[str, Any]:
    return _modal(title=title, blocks=[section(f":hourglass_flowing_sand: {text}")])


def info_modal(title: str, text: str) -> dict[str, Any]:
    return _modal(title=title, blocks=[section(text)])


def _summary(d: Dispute, *, now: float) -> str:
    return (
        f"*{amount(d)}* · {words(d.reason)} · dispute {_id_link(d.id, d.livemode)}\n"
        f"*Respond by:* {deadline(d, now=now)}"
    )


def evidence_modal(
    d: Dispute,
    *,
    fields: Sequence[EvidenceField],
    values: Mapping[str, str],
    files: Mapping[str, Any],
    now: float,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The evidence form for the dispute's reason, starting from `values`."""
    errors = errors or {}
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append(section(f":x: {notice}"))
    blocks.append(section(_summary(d, now=now)))
    blocks.append(
        context(
            "Saving stores the evidence on Stripe without submitting it. Press "
            "*Submit evidence* when it is complete: Stripe takes one submission. "
            "Files: PDF, JPEG or PNG, up to 5 MB each."
        )
    )
    for f in fields:
        block_id = input_block_id(f.name)
        if f.is_file:
            attached = files.get(f.name) or {}
            on_stripe = d.stripe_evidence.get(f.name)
            if attached.get("name") and attached.get("id") == on_stripe:
                hint = f"Attached now: {attached['name']}. A new file replaces it."
            elif on_stripe:
                hint = (
                    f"Stripe has a file for this ({on_stripe}). A new one replaces it."
                )
            else:
                hint = f.hint or "PDF, JPEG or PNG, up to 5 MB."
            blocks.append(
                InputBlock(
                    block_id=block_id,
                    label=f.label,
                    optional=True,
                    hint=hint[:2000],
                    element={
                        "type": "file_input",
                        "action_id": f.name,
                        "filetypes": FILE_TYPES,
                        "max_files": 1,
                    },
                ).to_dict()
            )
        else:
            initial = values.get(f.name) or None
            if initial is not None and len(initial) > INPUT_MAX:
                blocks.append(
                    context(
                        f"*{escape(f.label)}* is longer than Slack lets a form hold "
                        f"({INPUT_MAX} characters); change it in the Stripe Dashboard."
                    )
                )
                continue
            blocks.append(
                InputBlock(
                    block_id=block_id,
                    label=f.label,
                    optional=True,
                    hint=f.hint,
                    element=PlainTextInputElement(
                        action_id=f.name,
                        multiline=f.kind == "long",
                        initial_value=initial,
                        max_length=INPUT_MAX,
                    ),
                ).to_dict()
            )
        if f.name in errors:
            blocks.append(context(f":x: {escape(errors[f.name])}"))
    return _modal(
        title="Dispute evidence",
        callback_id=VIEW_EVIDENCE,
        private_metadata=d.id,
        submit="Save evidence",
        close="Cancel",
        blocks=blocks,
    )


def saved_modal(
    d: Dispute, *, saved: Sequence[EvidenceField], checklist: Checklist, now: float
) -> dict[str, Any]:
    if saved:
        head = ":white_check_mark: Saved on Stripe (not submitted): " + ", ".join(
            escape(f.label) for f in saved
        )
    else:
        head = "Nothing changed, so nothing was sent to Stripe."
    return _modal(
        title="Dispute evidence",
        blocks=[
            section(head),
            section(_summary(d, now=now)),
            section(checklist_text(d.reason, checklist)),
            context("Press *Submit evidence* on the alert when it is complete."),
        ],
    )


def submit_modal(
    d: Dispute,
    *,
    missing: Sequence[EvidenceField],
    fields: Mapping[str, EvidenceField],
    now: float,
) -> dict[str, Any]:
    """Confirmation before the one submission Stripe takes."""
    blocks = [
        section(_summary(d, now=now)),
        section(
            ":warning: Stripe takes *one* submission per dispute: after this nobody "
            "can add or change evidence, and the bank decides on what is there."
        ),
        section(
            f"*{missing_text(missing)}*"
            if missing
            else ":white_check_mark: Every recommended field is filled."
        ),
    ]
    so_far = evidence_so_far(d, fields)
    blocks.append(section(so_far or "_Stripe has no evidence for this dispute yet._"))
    return _modal(
        title="Submit evidence",
        callback_id=VIEW_SUBMIT,
        private_metadata=d.id,
        submit="Submit to Stripe",
        close="Cancel",
        blocks=blocks,
    )


def accept_modal(d: Dispute, *, now: float) -> dict[str, Any]:
    """Confirmation before conceding the dispute."""
    return _modal(
        title="Accept dispute",
        callback_id=VIEW_ACCEPT,
        private_metadata=d.id,
        submit="Accept and close",
        close="Cancel",
        blocks=[
            section(_summary(d, now=now)),
            section(
                f":warning: Accepting concedes *{amount(d)}* to the cardholder: "
                "Stripe closes the dispute as lost, the money and the dispute fee "
                "are not returned, and *this cannot be undone*."
            ),
        ],
    )
