"""Dispute modals: the evidence form, what was saved, and the confirmations
before the two answers Stripe takes once (submit, accept)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import stripe
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from bot.blocks import context, escape, section
from bot.blocks.dispute_parts import (
    amount,
    checklist_text,
    deadline,
    dispute_link,
    evidence_so_far,
    missing_text,
    stripe_error,
    words,
)
from bot.evidence_fields import Checklist, EvidenceField
from storage.models import Dispute

VIEW_EVIDENCE = "dispute_evidence"
VIEW_SUBMIT = "dispute_submit_confirm"
VIEW_ACCEPT = "dispute_accept_confirm"

# Slack's limit for plain_text_input values.
INPUT_MAX = 3000
FILE_TYPES = ["pdf", "jpg", "jpeg", "png"]


def input_block_id(field_name: str) -> str:
    return f"ev_{field_name}"


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


def prefill_failed(exc: stripe.StripeError) -> str:
    """Why the evidence form opens without what the payment would fill in."""
    return (
        "stripe-ops could not read the payment from Stripe to fill in "
        f"what it knows: {stripe_error(exc)}"
    )


def evidence_not_taken(exc: stripe.StripeError) -> str:
    """Stripe refused the evidence the form staged."""
    return (
        f":x: Stripe did not take the evidence: {stripe_error(exc)} "
        "Nothing was submitted."
    )


def loading_modal(title: str, text: str) -> dict[str, Any]:
    return _modal(title=title, blocks=[section(f":hourglass_flowing_sand: {text}")])


def info_modal(title: str, text: str) -> dict[str, Any]:
    return _modal(title=title, blocks=[section(text)])


def _summary(d: Dispute, *, now: float) -> str:
    return (
        f"*{amount(d)}* · {words(d.reason)} · dispute {dispute_link(d, d.id)}\n"
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
