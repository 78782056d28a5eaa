"""Refunds: the request modal and the deny modal.

What needs no Stripe call (the amount's form, the deny reason) is checked in
the ack, so Slack shows the error beside the field; what needs Stripe runs
after the ack and answers by the response_url of the click that opened the
modal (or, without one, by DM through the outbox).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import refunds
from bot.blocks.disputes import info_modal
from bot.blocks.refunds import (
    AMOUNT_INPUT,
    DENY_CALLBACK,
    DENY_REASON_INPUT,
    NOTE_INPUT,
    REASON_INPUT,
    REQUEST_CALLBACK,
    STRIPE_REASONS,
)
from bot.blocks.refusals import refusal_text
from bot.deps import Deps
from bot.money import AmountError, format_amount, parse_refund_amount
from bot.refusals import Refused
from handlers import inputs
from handlers.failures import tell_on_failure
from storage import outbox

log = logging.getLogger(__name__)


REQUEST_FORM_LOST = (
    "This form no longer says which payment it is for, so I can't use it. "
    "Nothing was requested. Close it and start again with the payment's "
    "Refund… button or `/stripe refund pi_… [amount] [reason]`."
)
DENY_FORM_LOST = (
    "This form no longer says which refund request it is for, so I can't use "
    "it. Nothing was denied. Close it and press Deny… on the request again."
)


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    return inputs.json_object(view.get("private_metadata")) or {}


def _request_meta(view: dict[str, Any]) -> dict[str, Any] | None:
    """What the request modal was opened with: payment, currency, what is left
    (None: unknown), channel and response_url; None if any of it is unusable."""
    meta = _metadata(view)
    payment_id = inputs.payment_id(meta.get("p"))
    currency = inputs.currency(meta.get("c"))
    left = meta.get("r")
    if payment_id is None or currency is None:
        return None
    if left is not None and inputs.amount(left) is None:
        return None
    account = inputs.account(meta.get("a"))
    if meta.get("a") is not None and account is None:
        return None
    channel, url = meta.get("ch"), meta.get("u")
    return {
        "p": payment_id,
        "c": currency,
        "r": left,
        "ch": channel if isinstance(channel, str) else None,
        "u": url if isinstance(url, str) else None,
        "a": account,
    }


def _value(view: dict[str, Any], block: str) -> str | None:
    state = ((view.get("state") or {}).get("values") or {}).get(block, {}).get(block)
    if not isinstance(state, dict):
        return None
    option = state.get("selected_option")
    raw = option.get("value") if isinstance(option, dict) else state.get("value")
    return raw.strip() or None if isinstance(raw, str) else None


def request_form(
    view: dict[str, Any], meta: dict[str, Any]
) -> tuple[refunds.RefundArgs, dict[str, str]]:
    """The request the modal describes, and errors by field (empty if none)."""
    currency = str(meta["c"])
    amount_text = _value(view, AMOUNT_INPUT)
    reason = _value(view, REASON_INPUT)
    errors: dict[str, str] = {}
    if amount_text is not None:
        try:
            amount = parse_refund_amount(amount_text, currency)
        except AmountError as exc:
            errors[AMOUNT_INPUT] = str(exc)
        else:
            left = meta.get("r")
            if isinstance(left, int) and amount > left:
                errors[AMOUNT_INPUT] = (
                    f"Only {format_amount(left, currency)} is left to refund."
                )
    if reason is not None and reason not in STRIPE_REASONS:
        errors[REASON_INPUT] = "Pick one of the reasons in the list."
    for block in (AMOUNT_INPUT, NOTE_INPUT):
        if inputs.has_control_character(_value(view, block) or ""):
            errors[block] = inputs.CONTROL_CHARACTER
    args = refunds.RefundArgs(
        payment_id=str(meta["p"]),
        amount_text=amount_text,
        reason=reason,
        note=_value(view, NOTE_INPUT),
        account=inputs.account(meta.get("a")),
    )
    return args, errors


async def _answer(deps: Deps, *, user_id: str, response_url: object, text: str) -> None:
    """Tell the person who submitted: where they clicked, else by DM."""
    if isinstance(response_url, str) and response_url:
        try:
            await AsyncWebhookClient(response_url).send(
                text=text, response_type="ephemeral", replace_original=False
            )
            return
        except Exception as exc:
            log.warning("response_url failed (%s); sending a DM", type(exc).__name__)
    async with deps.sessions() as session, session.begin():
        await outbox.enqueue(
            session,
            key=f"notice:{uuid.uuid4().hex}",
            channel=user_id,
            text=text,
            now=deps.clock.now(),
        )
    deps.wake.outbox.set()


def register(app: AsyncApp, deps: Deps) -> None:
    """Register this module's listeners."""

    async def ack_request(ack: AsyncAck, view: dict[str, Any]) -> None:
        """Show form errors beside their fields; else close the modal."""
        meta = _request_meta(view)
        if meta is None:
            await ack(
                response_action="update",
                view=info_modal("Request a refund", REQUEST_FORM_LOST),
            )
            return
        _, errors = request_form(view, meta)
        if errors:
            await ack(response_action="errors", errors=errors)
        else:
            await ack()

    @tell_on_failure(deps, "a refund request from the form")
    async def submit_request(body: dict[str, Any], view: dict[str, Any]) -> None:
        """Check the payment in Stripe and ask the approvers."""
        meta = _request_meta(view)
        if meta is None:
            return  # the ack said so
        args, errors = request_form(view, meta)
        if errors:
            return
        user_id = str(body["user"]["id"])
        try:
            text = await refunds.request_refund(
                deps,
                user_id=user_id,
                channel_id=meta["ch"],
                args=args,
            )
        except Refused as refused:
            # Told where the form was opened from, like the answer.
            text = f":no_entry_sign: {refusal_text(refused)}"
        await _answer(deps, user_id=user_id, response_url=meta.get("u"), text=text)

    app.view(REQUEST_CALLBACK)(ack=ack_request, lazy=[submit_request])

    async def ack_deny(ack: AsyncAck, view: dict[str, Any]) -> None:
        """A denial needs a reason the requester can read."""
        if inputs.row_id(_metadata(view).get("r")) is None:
            await ack(
                response_action="update",
                view=info_modal("Deny refund", DENY_FORM_LOST),
            )
        elif inputs.has_control_character(_value(view, DENY_REASON_INPUT) or ""):
            await ack(
                response_action="errors",
                errors={DENY_REASON_INPUT: inputs.CONTROL_CHARACTER},
            )
        elif _value(view, DENY_REASON_INPUT) is None:
            await ack(
                response_action="errors",
                errors={DENY_REASON_INPUT: "Say why, for the person who asked."},
            )
        else:
            await ack()

    @tell_on_failure(deps, "denying a refund request")
    async def submit_deny(body: dict[str, Any], view: dict[str, Any]) -> None:
        """Deny the request (a manager only, checked again here)."""
        reason = _value(view, DENY_REASON_INPUT)
        meta = _metadata(view)
        request_id = inputs.row_id(meta.get("r"))
        if reason is None or request_id is None or inputs.has_control_character(reason):
            return  # the ack said so
        user_id = str(body["user"]["id"])
        try:
            await refunds.deny(
                deps, request_id=request_id, user_id=user_id, reason=reason
            )
        except Refused as refused:
            # Told where Deny… was clicked, which the form remembers.
            await _answer(
                deps,
                user_id=user_id,
                response_url=meta.get("u"),
                text=refusal_text(refused),
            )

    app.view(DENY_CALLBACK)(ack=ack_deny, lazy=[submit_deny])
