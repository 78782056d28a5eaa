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
