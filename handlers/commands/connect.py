"""`--account acct_…`: a sub-command about a connected account's objects."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.blocks import escape
from bot.stripe_shapes import is_account_id

if TYPE_CHECKING:
    from handlers.commands import CommandContext, Run

# `--account acct_…` or `--account=acct_…`, anywhere after the sub-command.
# Slack clients may turn a typed "--" into an em or en dash: read those too.
_OPTION = re.compile(r"(?:^|\s)(?:--|—|–)account(?:=|\s+|$)(\S*)", re.IGNORECASE)

ACCOUNT_USAGE = (
    "`--account` takes the ID of a connected account (`acct_…`, from the "
    "Dashboard's Connected accounts page), e.g. `/stripe customer "
    "jenny@example.com --account acct_1Nv0FGQ9RKHgCVdK`."
)


class BadAccount(ValueError):
    """`--account` without a connected account ID after it."""

    def __init__(self, given: str) -> None:
        super().__init__(given)
        self.given = given


def split_account(args: str) -> tuple[str, str | None]:
    """(the arguments without `--account …`, the account or None); raises
    BadAccount when the option is there without an account ID."""
    found = list(_OPTION.finditer(args))
    if not found:
        return args, None
    if len(found) > 1:
        raise BadAccount(" ".join(m.group(1) for m in found))
    match = found[0]
    account = match.group(1)
    if not is_account_id(account):
        raise BadAccount(account)
    rest = (args[: match.start()] + " " + args[match.end() :]).strip()
    return " ".join(rest.split(" ")), account


def bad_account(given: str) -> str:
    shown = f" (`{escape(given[:80])}`)" if given else ""
    return (
        f":no_entry_sign: That is not a connected account ID{shown}, so nothing "
        f"was looked up. {ACCOUNT_USAGE}"
    )


def with_account(run: Run) -> Callable[[CommandContext], Awaitable[None]]:
    """Run the sub-command with `ctx.account` taken from `--account`."""

    async def run_with_account(ctx: CommandContext) -> None:
        try:
            args, account = split_account(ctx.args)
        except BadAccount as bad:
            await ctx.reply(bad_account(bad.given))
            return
        await run(replace(ctx, args=args, account=account))

    run_with_account.__doc__ = run.__doc__
    return run_with_account
