"""Disputes: the buttons on a dispute card (Edit, Submit, Accept, Take)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import disputes
from bot.blocks import disputes as blocks
from bot.deps import Deps
from bot.tell import tell_user
from handlers import inputs
from handlers.dispute_answers import ACCEPT, SUBMIT, Answer

log = logging.getLogger(__name__)


NOT_A_DISPUTE = (
    "This button does not name a dispute I can look up, so nothing was done. "
    "Use `/stripe dispute dp_…` to get the dispute with working buttons."
)


def _dispute_id(body: dict[str, Any]) -> str | None:
    return inputs.dispute_id(inputs.action_value(body))


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


NO_MODAL = (
    "Slack did not open the form (the click took too long to reach stripe-ops). "
    "Nothing was changed; click the button again."
)


async def _open(
    deps: Deps, body: dict[str, Any], view: dict[str, Any], *, instead: str = NO_MODAL
) -> AsyncSlackResponse | None:
    """Open a modal; when Slack will not (an expired trigger), tell the clicker
    `instead`, where they clicked."""
    try:
        return await deps.slack.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        log.warning("could not open a modal: %s", exc.response.get("error"))
    await tell_user(deps, body, instead)
    return None


async def _show(deps: Deps, body: dict[str, Any], title: str, text: str) -> None:
    """Say something in a small modal, or where they clicked if none opens."""
    await _open(deps, body, blocks.info_modal(title, text), instead=text)


async def _ask(
    deps: Deps, answer: Answer, body: dict[str, Any], dispute_id: str
) -> None:
    """Open the answer's confirmation, or say why it can't be given."""
    if not await answer.allowed(deps, _user(body)):
        await _show(deps, body, answer.title, answer.refused(deps.settings))
        return
    row = await disputes.load(deps, dispute_id)
    if row is None:
        await _show(deps, body, answer.title, blocks.unknown_dispute(dispute_id))
        return
    blocked = blocks.answer_blocked(row)
    if blocked is not None:
        await _show(deps, body, answer.title, blocked)
        return
    await _open(deps, body, answer.confirmation(deps, row))


def register(app: AsyncApp, deps: Deps) -> None:
    """Register this module's listeners."""

    async def edit_evidence(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Open the evidence form: a loading modal at once, then the form."""
        await ack()
        dispute_id = _dispute_id(body)
        if dispute_id is None:
            await tell_user(deps, body, NOT_A_DISPUTE)
            return
        title = "Dispute evidence"
        # The trigger is good for 3 s: open now, fill in after Stripe answers.
        opened = await _open(
            deps,
            body,
            blocks.loading_modal(
                title, "Reading the dispute and its payment from Stripe…"
            ),
        )
        if opened is None:
            return
        try:
            draft = await disputes.open_evidence(deps, dispute_id)
            view = blocks.evidence_modal(
                draft.row,
                fields=draft.fields,
                values=draft.values,
                files=draft.files,
                now=deps.clock.now(),
                notice=draft.notice,
            )
        except disputes.NotAnswerable as exc:
            view = blocks.info_modal(title, str(exc))
        await deps.slack.views_update(view_id=opened["view"]["id"], view=view)

    async def submit_evidence(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Ask for confirmation, showing what is still missing."""
        await ack()
        dispute_id = _dispute_id(body)
        if dispute_id is None:
            await tell_user(deps, body, NOT_A_DISPUTE)
            return
        await _ask(deps, SUBMIT, body, dispute_id)

    async def accept_dispute(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Managers only: ask for confirmation before conceding the money."""
        await ack()
        dispute_id = _dispute_id(body)
        if dispute_id is None:
            await tell_user(deps, body, NOT_A_DISPUTE)
            return
        await _ask(deps, ACCEPT, body, dispute_id)

    async def take_dispute(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Claim the dispute: its reminders mention whoever took it."""
        await ack()
        dispute_id = _dispute_id(body)
        if dispute_id is None:
            await tell_user(deps, body, NOT_A_DISPUTE)
            return
        user = _user(body)
        taken = await disputes.take(deps, dispute_id=dispute_id, user_id=user)
        if taken.row is None:
            await tell_user(deps, body, blocks.unknown_dispute(dispute_id))
            return
        if not taken.taken:
            text = blocks.answer_blocked(taken.row) or "This dispute is closed."
            await tell_user(deps, body, text)
            return
        if body.get("container", {}).get("is_ephemeral") and body.get("response_url"):
            # `/stripe dispute` answers only the asker: refresh that copy too.
            row = taken.row
            text, card = blocks.lookup_reply(
                [(row, disputes.checklist(row.reason, row.stripe_evidence))],
                disputes.EVIDENCE_FIELDS,
                now=deps.clock.now(),
            )
            await respond(text=text, blocks=card, replace_original=True)

    app.action(blocks.ACTION_EDIT)(edit_evidence)
    app.action(blocks.ACTION_SUBMIT)(submit_evidence)
    app.action(blocks.ACTION_ACCEPT)(accept_dispute)
    app.action(blocks.ACTION_TAKE)(take_dispute)
