"""`/stripe alerts`: the alert rules in force and what each took in 24 hours."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.blocks.alert_rules import alerts_overview
from bot.blocks.alerts import ALERTED_EVENT_TYPES
from storage import alert_counts

if TYPE_CHECKING:
    from handlers.commands import CommandContext, Subcommands

DAY_SECONDS = 24 * 3600


async def alerts(ctx: CommandContext) -> None:
    """Answer with each rule in words and the events it took in the last day."""
    deps = ctx.deps
    async with deps.sessions() as session:
        counts = await alert_counts.count_by_rule(
            session,
            since=deps.clock.now() - DAY_SECONDS,
            event_types=ALERTED_EVENT_TYPES,
        )
    text, blocks = alerts_overview(deps.settings.ALERT_RULES, counts)
    await ctx.reply(text, blocks)


def register(subcommands: Subcommands) -> None:
    """Add `alerts`."""
    subcommands.add(
        "alerts",
        "alerts",
        "the alert rules in force, and how many events each took in the last 24 hours",
        alerts,
    )
