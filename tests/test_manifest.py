"""manifest.yml and the app agree: what the app handles is declared, and back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_bolt.async_app import AsyncApp

import handlers
from bot.check import REQUIRED_SCOPES
from bot.deps import Deps
from bot.link_previews import DASHBOARD_HOST

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


class RecordingApp(AsyncApp):
    """Bolt's AsyncApp, noting each listener's constraint as it is registered."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorded: dict[str, list[Any]] = {
            "command": [],
            "action": [],
            "view": [],
            "event": [],
            "options": [],
            "shortcut": [],
        }

    def command(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        self.recorded["command"].append(command)
        return super().command(command, *args, **kwargs)

    def action(self, constraints: Any, *args: Any, **kwargs: Any) -> Any:
        self.recorded["action"].append(constraints)
        return super().action(constraints, *args, **kwargs)

    def view(self, constraints: Any, *args: Any, **kwargs: Any) -> Any:
        self.recorded["view"].append(constraints)
        return super().view(constraints, *args, **kwargs)

    def event(self, event: Any, *args: Any, **kwargs: Any) -> Any:
        self.recorded["event"].append(event)
        return super().event(event, *args, **kwargs)

    def options(self, constraints: Any, *args: Any, **kwargs: Any) -> Any:
        self.recorded["options"].append(constraints)
        return super().options(constraints, *args, **kwargs)

    def shortcut(self, constraints: Any, *args: Any, **kwargs: Any) -> Any:
        self.recorded["shortcut"].append(constraints)
        return super().shortcut(constraints, *args, **kwargs)


@pytest.fixture
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return data


@pytest.fixture
def registered(deps: Deps) -> dict[str, list[Any]]:
    app = RecordingApp(signing_secret="x", client=deps.slack)
    handlers.register_slack(app, deps)
    return app.recorded


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url  # the manifest does not depend on the database


def test_slash_commands_match(
    manifest: dict[str, Any], registered: dict[str, list[Any]]
) -> None:
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert declared == set(registered["command"])
    for command in manifest["features"]["slash_commands"]:
        assert command["url"].endswith("/slack/events")


def test_bot_events_match(
    manifest: dict[str, Any], registered: dict[str, list[Any]]
) -> None:
    declared = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    handled = {e if isinstance(e, str) else e.get("type") for e in registered["event"]}
    assert declared == handled
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith(
        "/slack/events"
    )


def test_home_tab_is_enabled_exactly_when_the_app_renders_it(
    manifest: dict[str, Any], registered: dict[str, list[Any]]
) -> None:
    home = manifest["features"]["app_home"]["home_tab_enabled"]
    assert home == ("app_home_opened" in registered["event"])


def test_interactivity_is_on_exactly_when_there_are_buttons_or_modals(
    manifest: dict[str, Any], registered: dict[str, list[Any]]
) -> None:
    interactive = bool(registered["action"] or registered["view"])
    assert manifest["settings"]["interactivity"]["is_enabled"] == interactive
    assert manifest["settings"]["interactivity"]["request_url"].endswith(
        "/slack/events"
    )
    # No shortcuts or external selects are handled, so none are declared.
    assert not registered["shortcut"]
    assert "shortcuts" not in manifest["features"]
    assert not registered["options"]


def test_action_and_view_ids_are_plain_names(registered: dict[str, list[Any]]) -> None:
    for constraint in registered["action"] + registered["view"]:
        name = (
            constraint
            if isinstance(constraint, str)
            else constraint.get("action_id", constraint.get("callback_id"))
        )
        assert isinstance(name, str | re.Pattern), constraint


def test_scopes_match_what_check_requires(manifest: dict[str, Any]) -> None:
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(REQUIRED_SCOPES)


def test_unfurl_domains_are_declared_exactly_when_links_are_unfurled(
    manifest: dict[str, Any], registered: dict[str, list[Any]]
) -> None:
    domains = manifest["features"].get("unfurl_domains", [])
    assert ("link_shared" in registered["event"]) == bool(domains)
    assert domains == [DASHBOARD_HOST]
    assert {"links:read", "links:write"} <= set(REQUIRED_SCOPES)
