"""Telling the person who clicked, wherever they clicked.

A click on a channel message carries a `response_url`: the answer is an
ephemeral message there. A click on the App Home tab (or a shortcut) carries
none: the answer goes to the app's DM with the person, the one place Slack
lets a bot write to them outside a channel. Modals show their errors in the
modal instead (see the view handlers).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.deps import Deps

log = logging.getLogger(__name__)


def _channel(body: dict[str, Any]) -> str | None:
    channel = body.get("channel")
    if isinstance(channel, dict) and channel.get("id"):
        return str(channel["id"])
    container = body.get("container")
    if isinstance(container, dict) and container.get("channel_id"):
        return str(container["channel_id"])
    return None


def _user(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict):
        return str(user["id"]) if user.get("id") else None
    if body.get("user_id"):
        return str(body["user_id"])
    # An Events API envelope (App Home, link_shared): the person is the event's.
    event = body.get("event")
    if isinstance(event, dict) and isinstance(event.get("user"), str):
        return str(event["user"])
    return None


async def tell_user(deps: Deps, body: dict[str, Any], text: str) -> None:
    """Show `text` (mrkdwn) to the person behind an interaction, and no one else:
    by its response_url, else an ephemeral in its channel, else a DM."""
    user_id = _user(body)
    response_url = body.get("response_url")
    if isinstance(response_url, str) and response_url:
        try:
            resp = await AsyncWebhookClient(response_url).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        except Exception as exc:
            log.warning("response_url failed (%s)", type(exc).__name__)
        else:
            if resp.status_code == 200:
                return
            log.warning("response_url answered HTTP %s", resp.status_code)
    if user_id is None:
        log.warning("no one to tell: the interaction names no user")
        return
    channel = _channel(body)
    if channel is not None:
        try:
            await deps.slack.chat_postEphemeral(
                channel=channel, user=user_id, text=text
            )
            return
        except SlackApiError as exc:
            log.warning("ephemeral failed: %s", exc.response.get("error"))
    try:
        await deps.slack.chat_postMessage(channel=user_id, text=text)
    except SlackApiError as exc:
        log.error("could not tell %s: %s", user_id, exc.response.get("error"))
