"""Slack actions listeners, one module per feature."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from handlers.actions import disputes, fraud_warnings, links, refunds


def register(app: AsyncApp, deps: Deps) -> None:
    """Register every actions listener on the Bolt app."""
    refunds.register(app, deps)
    disputes.register(app, deps)
    fraud_warnings.register(app, deps)
    links.register(app, deps)
