"""`/stripe refund` and `/stripe refunds`: request a refund, list refunds."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import stripe

from bot.blocks.refund_lookups import (
    refunds_answer,
    refunds_malformed,
    refunds_not_found,
    refunds_unreadable,
)
from bot.blocks.refusals import refusal_text
from bot.refunds import parse_refund_args, request_refund
from bot.refusals import Refused
from bot.stripe_api import describe_error
from bot.stripe_lookup import LookupKind, parse_query, refunds_lookup
from handlers.commands.connect import with_account

if TYPE_CHECKING:
    from handlers.commands import CommandContext, Subcommands

_KINDS: frozenset[LookupKind] = frozenset({"payment_intent", "charge", "refund"})


async def run_refund(ctx: CommandContext) -> None:
    """Check the payment, then ask the approvers; nothing is refunded yet."""
    try:
        args = replace(parse_refund_args(ctx.args), account=ctx.account)
        answer = await request_refund(
            ctx.deps, user_id=ctx.user_id, channel_id=ctx.channel_id, args=args
        )
    except Refused as refused:
        await ctx.reply(f":no_entry_sign: {refusal_text(refused)}")
        return
    await ctx.reply(answer)


async def run_refunds(ctx: CommandContext) -> None:
    """Every refund of a payment, with the ARN worded for the customer's bank."""
    query = parse_query(ctx.args, allowed=_KINDS)
    if query is None:
        await ctx.reply(refunds_malformed(ctx.args))
        return
    try:
        found = await refunds_lookup(ctx.deps, query, account=ctx.account)
    except stripe.StripeError as exc:
        await ctx.reply(refunds_unreadable(describe_error(exc)))
        return
    if found is None:
        await ctx.reply(refunds_not_found(query.value))
        return
    text, blocks = refunds_answer(found, account=ctx.account)
    await ctx.reply(text, blocks)


def register(subcommands: Subcommands) -> None:
    """Add this module's sub-commands."""
    subcommands.add(
        "refund",
        "refund <pi_… | ch_…> [amount] [reason] [--account acct_…]",
        "ask a manager to approve a refund (amount in the payment's currency; "
        "empty: all that is left)",
        with_account(run_refund),
    )
    subcommands.add(
        "refunds",
        "refunds <pi_… | ch_… | re_…> [--account acct_…]",
        "refunds with their status and the ARN for the customer's bank",
        with_account(run_refunds),
    )
