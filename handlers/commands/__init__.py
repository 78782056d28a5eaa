"""The `/stripe` slash command: one listener, one module per sub-command."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.blocks import escape
from bot.deps import Deps
from handlers.failures import tell_on_failure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandContext:
    deps: Deps
    user_id: str
    channel_id: str
    args: str  # the text after the sub-command's name
    trigger_id: str
    respond: AsyncRespond
    body: dict[str, Any]
    # `--account acct_…` (Connect), for the sub-commands that take it.
    account: str | None = None

    async def reply(
        self, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """An answer only the asker sees."""
        await self.respond(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=False
        )


Run = Callable[[CommandContext], Awaitable[None]]


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    run: Run


class Subcommands:
    def __init__(self) -> None:
        self._by_name: dict[str, Subcommand] = {}

    def add(self, name: str, usage: str, summary: str, run: Run) -> None:
        self._by_name[name] = Subcommand(name, usage, summary, run)

    def get(self, name: str) -> Subcommand | None:
        return self._by_name.get(name)

    def all(self) -> list[Subcommand]:
        return list(self._by_name.values())


def help_text(subcommands: Subcommands) -> str:
    lines = ["*`/stripe` commands*"]
    # Usages name their arguments as <…>, which Slack would read as links.
    lines += [f"• `/stripe {escape(s.usage)}`: {s.summary}" for s in subcommands.all()]
    lines.append("• `/stripe help`: this list")
    return "\n".join(lines)


# Longer than anything a sub-command takes (an email, an ID, an amount and a
# reason), and short enough to say so at once.
TEXT_MAX = 1000
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def refuse_text(text: str) -> str | None:
    """Why no sub-command can use this text (it never reaches Stripe); None if
    it may."""
    if any(
        unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS for c in text
    ):
        return (
            "Your command has a control character in it (an invisible character "
            "such as NUL, often pasted along with text), so nothing was looked "
            "up. Type it again without it."
        )
    if len(text) > TEXT_MAX:
        return (
            f"That is too long for `/stripe` ({len(text):,} characters; at most "
            f"{TEXT_MAX:,}), so nothing was looked up. `/stripe help` lists what "
            "each command takes."
        )
    return None


def register(app: AsyncApp, deps: Deps) -> None:
    """Register `/stripe`: ack at once, then the sub-command in a lazy listener."""
    # Each module adds its sub-commands, in the order `help` lists them.
    from handlers.commands import alerts, customer, dispute, refund, webhooks

    subcommands = Subcommands()
    for module in (customer, refund, dispute, webhooks, alerts):
        module.register(subcommands)

    async def ack_stripe(ack: AsyncAck, command: dict[str, Any]) -> None:
        """Acknowledge within Slack's 3 s; `help`, typos and text no sub-command
        could use are answered here."""
        text = str(command.get("text") or "")
        name, _, _ = text.strip().partition(" ")
        name = name.lower()
        refused = refuse_text(text)
        if refused is not None:
            await ack(response_type="ephemeral", text=refused)
        elif name in ("", "help"):
            await ack(response_type="ephemeral", text=help_text(subcommands))
        elif subcommands.get(name) is None:
            await ack(
                response_type="ephemeral",
                text=f"I don't know `{escape(name)}`.\n{help_text(subcommands)}",
            )
        else:
            await ack()

    @tell_on_failure(deps, "/stripe")
    async def run_stripe(
        respond: AsyncRespond, command: dict[str, Any], body: dict[str, Any]
    ) -> None:
        """Run the sub-command after the ack; answers go to response_url (the
        wrapper tells the asker of a refusal or a failure there too)."""
        text = str(command.get("text") or "")
        name, _, args = text.strip().partition(" ")
        sub = subcommands.get(name.lower())
        if sub is None or refuse_text(text) is not None:
            return  # the ack answered
        # Who may use it is checked once for every surface (bot.access).
        user_id = str(command.get("user_id"))
        ctx = CommandContext(
            deps=deps,
            user_id=user_id,
            channel_id=str(command.get("channel_id")),
            args=args.strip(),
            trigger_id=str(command.get("trigger_id") or ""),
            respond=respond,
            body=command,
        )
        log.info("/stripe %s", sub.name)
        await sub.run(ctx)

    app.command("/stripe")(ack=ack_stripe, lazy=[run_stripe])
