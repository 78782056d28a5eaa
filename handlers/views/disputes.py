"""Disputes: the evidence form, and the submit and accept confirmations."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import stripe
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import disputes
from bot.blocks import disputes as blocks
from bot.blocks.modes import mode_mismatch
from bot.blocks.refusals import refusal_text
from bot.deps import Deps
from bot.dispute_refusals import OtherMode, cannot_answer
from bot.evidence_fields import EVIDENCE_FIELDS, FILE_FIELDS, checklist, modal_fields
from bot.evidence_files import (
    EvidenceFileError,
    SlackFile,
    Upload,
    check_declared,
    fetch_checked,
    file_info,
)
from bot.refusals import Refused
from handlers import inputs
from handlers.dispute_answers import ACCEPT, SUBMIT, Answer
from handlers.failures import tell_on_failure

log = logging.getLogger(__name__)

# The dispute's ID, which the form was opened with.
_META = "private_metadata"

# Of Slack's 3 s for a view_submission answer, what downloading files to check
# their bytes may use; slower downloads are checked after the answer instead.
ACK_DOWNLOAD_BUDGET = 1.5


def _form_values(
    view: dict[str, Any],
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(text per evidence field, [(field, Slack file ID)]) from a submitted form."""
    texts: dict[str, str] = {}
    attached: list[tuple[str, str]] = []
    values = (view.get("state") or {}).get("values") or {}
    for actions in values.values() if isinstance(values, dict) else ():
        # Anything not shaped like Slack's block state is skipped, not a 500.
        if not isinstance(actions, dict):
            continue
        for name, state in actions.items():
            if name not in EVIDENCE_FIELDS or not isinstance(state, dict):
                continue
            if state.get("type") == "file_input":
                files = state.get("files")
                attached += [
                    (name, str(f["id"]))
                    for f in (files if isinstance(files, list) else [])
                    if isinstance(f, dict) and f.get("id")
                ]
            elif name not in FILE_FIELDS:
                texts[name] = str(state.get("value") or "").strip()
    return texts, attached


async def _fetch(
    deps: Deps, files: list[tuple[str, SlackFile]]
) -> tuple[list[Upload], dict[str, str]]:
    """Download and check each file: (uploads, error per field)."""
    uploads: list[Upload] = []
    errors: dict[str, str] = {}
    async with aiohttp.ClientSession() as http:
        for name, file in files:
            try:
                uploads.append(await fetch_checked(deps, name, file, http))
            except EvidenceFileError as exc:
                errors[name] = str(exc)
            except (aiohttp.ClientError, TimeoutError):
                errors[name] = (
                    f"{file.name} could not be downloaded from Slack; attach it again."
                )
    return uploads, errors


def _refusal_modal(title: str, refused: Refused) -> dict[str, Any]:
    return blocks.info_modal(title, refusal_text(refused))


async def _confirm(
    deps: Deps,
    answer: Answer,
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
) -> None:
    """Permission checked again; claim the one answer (the loser hears who
    won), answer Slack, then make the Stripe call and show its outcome."""
    title = answer.title
    user, dispute_id = str(body["user"]["id"]), inputs.dispute_id(view.get(_META))
    if dispute_id is None:
        await ack(
            response_action="update", view=blocks.info_modal(title, blocks.FORM_LOST)
        )
        return
    if not await answer.allowed(deps, user):
        refused = answer.refusal(deps.settings)
        await ack(response_action="update", view=_refusal_modal(title, refused))
        return
    found = await disputes.load(deps, dispute_id)
    if found is not None and mode_mismatch(
        found.livemode, key_live=deps.settings.stripe_live
    ):
        # Before the claim: a claim the key cannot send would stay claimed.
        refused = OtherMode(found)
        await ack(response_action="update", view=_refusal_modal(title, refused))
        return
    if not await answer.claim(deps, dispute_id=dispute_id, user_id=user):
        refused = cannot_answer(dispute_id, await disputes.load(deps, dispute_id))
        await ack(response_action="update", view=_refusal_modal(title, refused))
        return
    await ack(
        response_action="update", view=blocks.loading_modal(title, answer.sending)
    )
    try:
        row = await answer.send(deps, dispute_id=dispute_id, user_id=user)
    except stripe.StripeError as exc:
        text = blocks.stripe_failed(
            exc, answer.failed, may_have_acted=disputes.stripe_may_have_acted(exc)
        )
        result = blocks.info_modal(title, text)
    except Refused as refused:
        result = _refusal_modal(title, refused)
    else:
        result = blocks.info_modal(answer.done_title, answer.done_note(row))
    await deps.slack.views_update(view_id=view["id"], view=result)


def register(app: AsyncApp, deps: Deps) -> None:
    """Register this module's listeners."""

    async def save_evidence(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """Refuse files Stripe would not take, then stage the evidence after the ack."""
        started = time.monotonic()
        title = "Dispute evidence"
        user, dispute_id = str(body["user"]["id"]), inputs.dispute_id(view.get(_META))
        if dispute_id is None:
            await ack(
                response_action="update",
                view=blocks.info_modal(title, blocks.FORM_LOST),
            )
            return
        texts, attached = _form_values(view)
        errors: dict[str, str] = {
            blocks.input_block_id(name): inputs.CONTROL_CHARACTER
            for name, text in texts.items()
            if inputs.has_control_character(text)
        }
        files: list[tuple[str, SlackFile]] = []
        for name, file_id in attached:
            try:
                file = await file_info(deps, file_id)
                check_declared(file)
            except EvidenceFileError as exc:
                errors[blocks.input_block_id(name)] = str(exc)
                continue
            files.append((name, file))
        # None: not downloaded yet, so checked after the ack instead.
        uploads: list[Upload] | None = None
        budget = ACK_DOWNLOAD_BUDGET - (time.monotonic() - started)
        if files and not errors and budget > 0:
            try:
                async with asyncio.timeout(budget):
                    uploads, bad_files = await _fetch(deps, files)
            except TimeoutError:
                pass
            else:
                errors = {blocks.input_block_id(n): e for n, e in bad_files.items()}
        elif not files:
            uploads = []
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        try:
            row = disputes.refuse_unless_answerable(
                await disputes.load(deps, dispute_id),
                dispute_id,
                key_live=deps.settings.stripe_live,
            )
        except Refused as not_now:
            await ack(response_action="update", view=_refusal_modal(title, not_now))
            return
        await ack(
            response_action="update",
            view=blocks.loading_modal(title, "Saving the evidence on Stripe…"),
        )

        if uploads is None:
            uploads, bad_files = await _fetch(deps, files)
            if bad_files:
                # Too slow to refuse in the answer: show the form again, with
                # what was typed and why the file was refused.
                await deps.slack.views_update(
                    view_id=view["id"],
                    view=blocks.evidence_modal(
                        row,
                        fields=modal_fields(row.reason),
                        values=texts,
                        files=row.evidence_files,
                        now=deps.clock.now(),
                        errors=bad_files,
                        notice="Nothing was saved: a file was refused (see below).",
                    ),
                )
                return
        try:
            saved = await disputes.save_evidence(
                deps, dispute_id=dispute_id, user_id=user, texts=texts, uploads=uploads
            )
        except Refused as refused:
            result = _refusal_modal(title, refused)
        except stripe.StripeError as exc:
            result = blocks.info_modal(title, blocks.evidence_not_taken(exc))
        else:
            fresh = saved.row
            result = blocks.saved_modal(
                fresh,
                saved=[EVIDENCE_FIELDS[n] for n in saved.fields],
                checklist=checklist(fresh.reason, fresh.stripe_evidence),
                now=deps.clock.now(),
            )
        await deps.slack.views_update(view_id=view["id"], view=result)

    async def confirm_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        await _confirm(deps, SUBMIT, ack, body, view)

    async def confirm_accept(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        await _confirm(deps, ACCEPT, ack, body, view)

    app.view(blocks.VIEW_EVIDENCE)(
        tell_on_failure(deps, "save evidence")(save_evidence)
    )
    app.view(blocks.VIEW_SUBMIT)(
        tell_on_failure(deps, "submit evidence")(confirm_submit)
    )
    app.view(blocks.VIEW_ACCEPT)(
        tell_on_failure(deps, "accept dispute")(confirm_accept)
    )
