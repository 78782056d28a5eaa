"""Disputes: the buttons on a dispute card (Edit, Submit, Accept, Take)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import disputes
from bot.blocks import disputes as blocks
from bot.blocks.refusals import refusal_text
from bot.deps import Deps
from bot.dispute_refusals import NoDisputeNamed, cannot_answer
from bot.evidence_fields import EVIDENCE_FIELDS, checklist
from bot.refusals import Refused
from bot.tell import tell_user
from handlers import inputs
from handlers.dispute_answers import ACCEPT, SUBMIT, Answer
from handlers.failures import tell_on_failure

log = logging.getLogger(__name__)


def _dispute_id(body: dict[str, Any]) -> str:
    dispute_id = inputs.dispute_id(inputs.action_value(body))
    if dispute_id is None:
        raise NoDisputeNamed
    return dispute_id


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


async def _open(
    deps: Deps,
    body: dict[str, Any],
    view: dict[str, Any],
    *,
    instead: str = blocks.NO_MODAL,
) -> AsyncSlackResponse | None:
    """Open a modal; when Slack will not (an expired trigger), tell the clicker
    `instead`, where they clicked."""
    try:
        return await deps.slack.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        log.warning("could not open a modal: %s", exc.response.get("error"))
    await tell_user(deps, body, instead)
    return None


async def _show_refusal(
    deps: Deps, body: dict[str, Any], title: str, refused: Refused
) -> None:
    """Say why in a small modal, or where they clicked if none opens."""
    text = refusal_text(refused)
    await _open(deps, body, blocks.info_modal(title, text), instead=text)


async def _ask(deps: Deps, answer: Answer, body: dict[str, Any]) -> None:
    """Open the answer's confirmation, or say why it can't be given."""
    dispute_id = _dispute_id(body)
    try:
        if not await answer.allowed(deps, _user(body)):
            raise answer.refusal(deps.settings)
        row = disputes.refuse_unless_answerable(
            await disputes.load(deps, dispute_id),
            dispute_id,
            key_live=deps.settings.stripe_live,
        )
    except Refused as refused:
        await _show_refusal(deps, body, answer.title, refused)
        return
    await _open(deps, body, answer.confirmation(deps, row))


def register(app: AsyncApp, deps: Deps) -> None:
    """Register this module's listeners."""

    async def edit_evidence(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Open the evidence form: a loading modal at once, then the form."""
        await ack()
        dispute_id = _dispute_id(body)
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
        except Refused as refused:
            view = blocks.info_modal(title, refusal_text(refused))
        await deps.slack.views_update(view_id=opened["view"]["id"], view=view)

    async def submit_evidence(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Ask for confirmation, showing what is still missing."""
        await ack()
        await _ask(deps, SUBMIT, body)

    async def accept_dispute(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Managers only: ask for confirmation before conceding the money."""
        await ack()
        await _ask(deps, ACCEPT, body)

    async def take_dispute(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Claim the dispute: its reminders mention whoever took it."""
        await ack()
        dispute_id = _dispute_id(body)
        user = _user(body)
        taken = await disputes.take(deps, dispute_id=dispute_id, user_id=user)
        if taken.row is None or not taken.taken:
            raise cannot_answer(dispute_id, taken.row)
        if body.get("container", {}).get("is_ephemeral") and body.get("response_url"):
            # `/stripe dispute` answers only the asker: refresh that copy too.
            row = taken.row
            text, card = blocks.lookup_reply(
                [(row, checklist(row.reason, row.stripe_evidence))],
                EVIDENCE_FIELDS,
                now=deps.clock.now(),
                key_live=deps.settings.stripe_live,
            )
            await respond(text=text, blocks=card, replace_original=True)

    app.action(blocks.ACTION_EDIT)(
        tell_on_failure(deps, "edit evidence")(edit_evidence)
    )
    app.action(blocks.ACTION_SUBMIT)(
        tell_on_failure(deps, "submit evidence")(submit_evidence)
    )
    app.action(blocks.ACTION_ACCEPT)(
        tell_on_failure(deps, "accept dispute")(accept_dispute)
    )
    app.action(blocks.ACTION_TAKE)(tell_on_failure(deps, "take dispute")(take_dispute))
