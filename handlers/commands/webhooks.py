"""`/stripe webhooks`: the account's endpoints against the recommended events."""

from __future__ import annotations

from typing import TYPE_CHECKING

import stripe

from bot.blocks.webhooks import webhook_audit_blocks, webhook_audit_failed
from bot.webhook_audit import audit_endpoints, expected_url

if TYPE_CHECKING:
    from handlers.commands import CommandContext, Subcommands


async def webhooks(ctx: CommandContext) -> None:
    """Answer with each endpoint, its status and the recommended events it lacks."""
    try:
        reports = await audit_endpoints(ctx.deps)
    except stripe.StripeError as exc:
        await ctx.reply(webhook_audit_failed(exc))
        return
    text, blocks = webhook_audit_blocks(
        reports, expected=expected_url(ctx.deps.settings.PUBLIC_URL)
    )
    await ctx.reply(text, blocks)


def register(subcommands: Subcommands) -> None:
    """Add `webhooks`."""
    subcommands.add(
        "webhooks",
        "webhooks",
        "the account's webhook endpoints against the recommended events",
        webhooks,
    )
