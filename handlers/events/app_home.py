"""App home: Slack events listeners."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    """Register this module's listeners."""
