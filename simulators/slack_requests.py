"""Builders of requests *to the bot*, shaped and signed the way Slack sends them.

Every builder returns the raw body (a string); pass it to :func:`sign` to get the
headers, e.g.::

    body = slash_command_body(text="cus_123", response_url=fake.response_url())
    resp = await app.async_dispatch(
        AsyncBoltRequest(body=body, headers=sign(body, SIGNING_SECRET))
    )
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

APP_ID = "A0FAKEAPP"
BOT_ID = "B0BOT"
TEAM_DOMAIN = "fake-workspace"
VERIFICATION_TOKEN = "fake-verification-token"
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

_ids = itertools.count(1)


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def sign(
    body: str, signing_secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """Headers Slack sends with ``body``: Content-Type, timestamp and v0 signature."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    content_type = (
        "application/json"
        if body.lstrip().startswith("{")
        else "application/x-www-form-urlencoded"
    )
    return {
        "Content-Type": content_type,
        "User-Agent": SLACK_USER_AGENT,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
    }


def slash_command_body(
    *,
    text: str,
    response_url: str,
    user_id: str = "U_AGENT",
    command: str = "/stripe",
    channel_id: str = "C_SUPPORT",
    trigger_id: str = "T.trig",
    team_id: str = "T0001",
    user_name: str = "agent",
    channel_name: str = "support",
) -> str:
    """An ``application/x-www-form-urlencoded`` slash-command body."""
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def _user(user_id: str, team_id: str, user_name: str) -> dict[str, Any]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def _payload_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": _compact(payload)})


def block_action_body(
    *,
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    block_id: str = "b",
    trigger_id: str = "T.trig",
    team_id: str = "T0001",
    message: dict[str, Any] | None = None,
    action_type: str = "button",
    user_name: str = "agent",
    state_values: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> str:
    """A ``payload=<json>`` body for a ``block_actions`` interaction on a message.

    ``action_type`` "button" sends ``value``; any other type (e.g.
    "static_select") sends ``selected_option`` with that value instead.
    """
    action: dict[str, Any] = {
        "type": action_type,
        "action_id": action_id,
        "block_id": block_id,
        "action_ts": f"{time.time():.6f}",
    }
    if action_type == "button":
        action["value"] = value
        action["text"] = {"type": "plain_text", "text": value, "emoji": True}
    else:
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        action["selected_option"] = option
    if message is None:
        message = {
            "type": "message",
            "subtype": "bot_message",
            "ts": message_ts,
            "user": "U0BOT",
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": "",
            "blocks": [],
        }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "support"},
        "message": message,
        "state": {"values": state_values or {}},
        "response_url": response_url,
        "actions": [action],
    }
    return _payload_body(payload)


def view_submission_body(
    *,
    callback_id: str,
    state_values: dict[str, dict[str, dict[str, Any]]],
    user_id: str,
    private_metadata: str = "",
    view_id: str = "V1",
    team_id: str = "T0001",
    user_name: str = "agent",
    trigger_id: str = "T.trig",
) -> str:
    """A ``payload=<json>`` body for a modal's ``view_submission``.

    ``state_values`` is ``{block_id: {action_id: element_state}}``, e.g.
    ``{"amount": {"amount": {"type": "plain_text_input", "value": "12.50"}}}``.
    """
    view = {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": state_values},
        "hash": f"{int(time.time())}.fake{next(_ids)}",
        "title": {"type": "plain_text", "text": "Modal", "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_body(payload)


def event_callback_body(
    *, event: dict[str, Any], team_id: str = "T0001", bot_user_id: str = "U0BOT"
) -> str:
    """A JSON Events API body wrapping ``event`` (e.g. an app_home_opened event)."""
    n = next(_ids)
    return _compact(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev0FAKE{n:06d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-fake-{n}",
        }
    )


def url_verification_body(challenge: str = "fake-challenge") -> str:
    """The JSON body Slack sends when the Request URL is (re)configured."""
    return _compact(
        {
            "token": VERIFICATION_TOKEN,
            "challenge": challenge,
            "type": "url_verification",
        }
    )
