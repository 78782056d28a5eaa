"""*Open in Stripe*: a link button; Slack opens the URL and still tells us."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.blocks import OPEN_IN_STRIPE_ACTION
from bot.deps import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    async def ack_link(ack: AsyncAck) -> None:
        """Acknowledge the click, or Slack shows the clicker a warning icon."""
        await ack()

    app.action(OPEN_IN_STRIPE_ACTION)(ack_link)
