"""`/stripe dispute` and `/stripe disputes`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import stripe

from bot import disputes
from bot.blocks import disputes as blocks
from bot.evidence_fields import EVIDENCE_FIELDS, checklist
from handlers.commands.connect import with_account

if TYPE_CHECKING:
    from handlers.commands import CommandContext, Subcommands

_LOOKUP_ID = re.compile(r"(?:dp|du|ch|pi)_[A-Za-z0-9]+")


async def dispute(ctx: CommandContext) -> None:
    """One dispute (or a payment's disputes): deadline, evidence, buttons."""
    object_id = ctx.args.split()[0] if ctx.args else ""
    if not _LOOKUP_ID.fullmatch(object_id):
        await ctx.reply(blocks.LOOKUP_USAGE)
        return
    try:
        rows = await disputes.lookup(ctx.deps, object_id, account=ctx.account)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing":
            await ctx.reply(blocks.no_such_dispute(object_id))
            return
        await ctx.reply(blocks.stripe_error(exc))
        return
    except stripe.StripeError as exc:
        await ctx.reply(blocks.stripe_error(exc))
        return
    if not rows:
        await ctx.reply(blocks.no_dispute_on(object_id))
        return
    now = ctx.deps.clock.now()
    text, reply = blocks.lookup_reply(
        [(row, checklist(row.reason, row.stripe_evidence)) for row in rows],
        EVIDENCE_FIELDS,
        now=now,
        key_live=ctx.deps.settings.stripe_live,
    )
    await ctx.reply(text, reply)


async def dispute_list(ctx: CommandContext) -> None:
    """Disputes waiting for an answer, soonest deadline first."""
    rows, total, in_review = await disputes.answerable(ctx.deps, limit=blocks.LIST_MAX)
    text, reply = blocks.dispute_list(
        [(row, checklist(row.reason, row.stripe_evidence)) for row in rows],
        total=total,
        in_review=in_review,
        now=ctx.deps.clock.now(),
        synced=await disputes.first_sync_done(ctx.deps),
    )
    await ctx.reply(text, reply)


def register(subcommands: Subcommands) -> None:
    """Add this module's sub-commands."""
    subcommands.add(
        "dispute",
        "dispute <dp_… | ch_… | pi_…> [--account acct_…]",
        "a dispute: deadline, evidence so far, and buttons to edit evidence, "
        "submit it, or accept the dispute",
        with_account(dispute),
    )
    subcommands.add(
        "disputes",
        "disputes",
        "open disputes, soonest deadline first",
        dispute_list,
    )
