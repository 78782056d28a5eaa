"""Early fraud warnings: the *Refund…* button on the warning's alert.

Acked at once; the request (Stripe's look at the payment included) is made in
the lazy listener, and the answer reaches the clicker alone.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import fraud_warnings
from bot.blocks.fraud_warnings import EFW_REFUND_ACTION
from bot.deps import Deps
from bot.tell import tell_user
from handlers import inputs
from handlers.failures import tell_on_failure

NOT_A_WARNING = (
    "This button does not name an early fraud warning, so nothing was "
    "requested. Use `/stripe refund ch_… fraudulent` instead."
)


def register(app: AsyncApp, deps: Deps) -> None:
    """Register this module's listeners."""

    async def ack_at_once(ack: AsyncAck) -> None:
        """Ack the click; the work follows in the lazy listener."""
        await ack()

    @tell_on_failure(deps, "a refund request from an early fraud warning")
    async def refund_clicked(body: dict[str, Any]) -> None:
        """Refund…: everything left, as fraudulent, for a manager to approve."""
        warning_id = inputs.action_value(body)
        if not isinstance(warning_id, str) or not warning_id.startswith("issfr_"):
            await tell_user(deps, body, NOT_A_WARNING)
            return
        channel = (body.get("channel") or {}).get("id") or (
            body.get("container") or {}
        ).get("channel_id")
        text = await fraud_warnings.request_from_warning(
            deps,
            user_id=str(body["user"]["id"]),
            channel_id=channel,
            warning_id=warning_id,
        )
        await tell_user(deps, body, text)

    app.action(EFW_REFUND_ACTION)(ack=ack_at_once, lazy=[refund_clicked])
