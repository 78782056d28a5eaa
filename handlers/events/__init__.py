"""Slack events listeners, one module per feature."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from handlers.events import app_home, link_shared


def register(app: AsyncApp, deps: Deps) -> None:
    """Register every events listener on the Bolt app."""
    app_home.register(app, deps)
    link_shared.register(app, deps)
