"""`/stripe dispute` and `/stripe disputes`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.commands import Subcommands


def register(subcommands: Subcommands) -> None:
    """Add this module's sub-commands."""
