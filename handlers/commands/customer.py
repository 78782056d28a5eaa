"""`/stripe customer`: a customer, their PaymentMethods, payments, disputes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import stripe

from bot.blocks import escape
from bot.blocks.customer import USAGE, customer_answer, malformed, not_found
from bot.stripe_api import describe_error
from bot.stripe_lookup import LookupKind, customer_lookup, parse_query
from handlers.commands.connect import with_account

if TYPE_CHECKING:
    from handlers.commands import CommandContext, Subcommands

# Stripe's limit for a customer's email.
EMAIL_MAX = 512
_KINDS: frozenset[LookupKind] = frozenset(
    {"email", "customer", "payment_intent", "charge"}
)


async def run_customer(ctx: CommandContext) -> None:
    """Look a customer up by email or ID and answer only the asker."""
    query = parse_query(ctx.args, allowed=_KINDS)
    if query is None:
        await ctx.reply(malformed(ctx.args))
        return
    if query.kind == "email" and len(query.value) > EMAIL_MAX:
        await ctx.reply(
            f"That is too long for an email ({len(query.value):,} characters; "
            f"Stripe keeps at most {EMAIL_MAX}), so nothing was looked up. {USAGE}"
        )
        return
    try:
        lookup = await customer_lookup(ctx.deps, query, account=ctx.account)
    except stripe.StripeError as exc:
        await ctx.reply(
            f"Stripe did not give me the customer: {escape(describe_error(exc))}"
        )
        return
    if lookup.empty:
        await ctx.reply(not_found(query.value))
        return
    text, blocks = customer_answer(lookup, account=ctx.account)
    await ctx.reply(text, blocks)


def register(subcommands: Subcommands) -> None:
    """Add this module's sub-commands."""
    subcommands.add(
        "customer",
        "customer <email | cus_… | pi_… | ch_…> [--account acct_…]",
        "the customer, saved payment methods, recent payments, open disputes",
        with_account(run_customer),
    )
