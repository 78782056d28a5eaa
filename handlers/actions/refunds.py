"""Refunds: the Approve, Deny… and Refund… buttons.

Each acks first. Approve does its work (and every Stripe call) in a lazy
listener; Deny… and Refund… open their modal from the ack function, with data
the click carries, because Slack's trigger_id lasts only 3 seconds.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import refunds
from bot.blocks.refunds import (
    APPROVE_ACTION,
    DENY_ACTION,
    OPEN_MODAL_ACTION,
    deny_modal,
    refund_modal,
)
from bot.blocks.refusals import NO_MODAL
from bot.deps import Deps
from bot.tell import tell_user
from handlers import inputs
from handlers.failures import tell_on_failure

log = logging.getLogger(__name__)


NOT_A_REQUEST = (
    "This button does not name a refund request I know, so nothing was done. "
    "Use the buttons on the request in the approvals channel."
)
NOT_A_PAYMENT = (
    "This button does not name a payment I can refund, so nothing was "
    "requested. Use `/stripe refund pi_… [amount] [reason]` instead."
)


def _request_id(body: dict[str, Any]) -> int | None:
    return inputs.row_id(inputs.action_value(body))


def register(app: AsyncApp, deps: Deps) -> None:
    """Register this module's listeners."""

    async def ack_at_once(ack: AsyncAck) -> None:
        """Ack the click; the work follows in the lazy listener."""
        await ack()

    @tell_on_failure(deps, "approving a refund request")
    async def approve_clicked(body: dict[str, Any]) -> None:
        """Approve: who may is checked here, at every click; then the refund."""
        request_id = _request_id(body)
        if request_id is None:
            await tell_user(deps, body, NOT_A_REQUEST)
            return
        await refunds.approve(
            deps, request_id=request_id, user_id=str(body["user"]["id"])
        )

    app.action(APPROVE_ACTION)(ack=ack_at_once, lazy=[approve_clicked])

    @tell_on_failure(deps, "opening the deny form")
    async def deny_clicked(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Deny…: ask the manager why, in a modal (no Stripe call needed)."""
        await ack()
        request_id = _request_id(body)
        if request_id is None:
            await tell_user(deps, body, NOT_A_REQUEST)
            return
        # A refusal reaches the clicker through tell_on_failure (on Home,
        # which has no response_url, by DM).
        req = await refunds.deny_check(
            deps, request_id=request_id, user_id=str(body["user"]["id"])
        )
        metadata = {"r": request_id, "u": body.get("response_url")}
        try:
            await client.views_open(
                trigger_id=body["trigger_id"],
                view=deny_modal(req, private_metadata=metadata),
            )
        except SlackApiError as exc:
            log.warning("could not open the deny modal: %s", exc.response.get("error"))
            await tell_user(deps, body, NO_MODAL)

    app.action(DENY_ACTION)(deny_clicked)

    @tell_on_failure(deps, "opening the refund form")
    async def refund_clicked(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Refund… beside a payment: the request modal, filled from the button."""
        await ack()
        value = inputs.json_object(inputs.action_value(body)) or {}
        payment_id = inputs.payment_id(value.get("p"))
        currency = inputs.currency(value.get("c"))
        remaining = inputs.amount(value.get("r"))
        account = inputs.account(value.get("a"))
        if (
            payment_id is None
            or currency is None
            or (value.get("r") is not None and remaining is None)
            or (value.get("a") is not None and account is None)
        ):
            log.warning("a Refund… button without a usable value")
            await tell_user(deps, body, NOT_A_PAYMENT)
            return
        channel = (body.get("channel") or {}).get("id") or (
            body.get("container") or {}
        ).get("channel_id")
        metadata = {
            "p": payment_id,
            "c": currency,
            "r": remaining,
            "ch": channel,
            "u": body.get("response_url"),
            "a": account,
        }
        try:
            await client.views_open(
                trigger_id=body["trigger_id"],
                view=refund_modal(
                    payment_id=payment_id,
                    currency=currency,
                    remaining=remaining,
                    private_metadata=metadata,
                ),
            )
        except SlackApiError as exc:
            log.warning("could not open the refund form: %s", exc.response.get("error"))
            await tell_user(deps, body, NO_MODAL)

    app.action(OPEN_MODAL_ACTION)(refund_clicked)
