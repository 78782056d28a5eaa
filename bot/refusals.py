"""Refusals: what the bot will not do for someone, as values, not sentences.

The domain raises a `Refused` subclass that carries the objects involved;
the words a person reads live in `bot.blocks.refusals`, escaped once there.
Listeners let it reach `handlers.failures.tell_on_failure`, which shows it to
the person who asked, wherever they asked.
"""

from __future__ import annotations


class Refused(Exception):
    """Something the bot will not do; `bot.blocks.refusals.refusal_text` says
    why and what to do instead. Nothing was changed."""


class NotAManager(Refused):
    """Only managers (MANAGER_USER_IDS, MANAGER_USERGROUP) may do this."""

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.action = action  # what they tried, e.g. "approve refunds"


class RefundRefused(Refused):
    """A refund that will not be asked for or made (cases in bot.refunds)."""


class DisputeRefused(Refused):
    """A dispute action that will not be taken (cases in bot.disputes)."""
