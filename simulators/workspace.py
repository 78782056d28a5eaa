"""A Slack workspace as people see it, on top of :class:`FakeSlack`.

The fake Slack API keeps what the bot *wrote* (messages, views, files); this
keeps what Slack *shows* and *sends*: the ephemeral messages each person sees,
the modals open for each person, and the requests Slack sends to the app when
someone types a command, clicks a button, opens App Home or submits a modal.
Each of those is shaped and signed as Slack does (:mod:`simulators.slack_requests`)
and posted over HTTP to the app's request URL, whose answer is applied as
Slack applies it (an ack's text becomes an ephemeral message, a
``response_action`` updates, pushes, clears or marks a modal's errors).

The sandbox page (``python -m bot sandbox``) drives it; tests drive it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from .slack import FakeSlack, SlackCall
from .slack_requests import (
    APP_ID,
    TEAM_DOMAIN,
    VERIFICATION_TOKEN,
    event_callback_body,
    sign,
    slash_command_body,
)

Json = dict[str, Any]


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: str


PEOPLE: tuple[Person, ...] = (
    Person("U_AGENT", "Alex Agent", "support agent"),
    Person("U_MANAGER", "Morgan Manager", "manager"),
    Person("U_MANAGER2", "Sam Manager", "manager"),
)

# Channel ID -> name: the bot's channels (see bot.config.CHANNEL_SETTINGS) and
# one where people type commands.
CHANNELS: dict[str, str] = {
    "CSUPPORT": "support",
    "CALERTS": "alerts",
    "CPAYMENTS": "payments",
    "CREFUNDS": "refunds",
    "CPAYOUTS": "payouts",
    "CDISPUTES": "disputes",
    "CAPPROVALS": "approvals",
}


@dataclass
class _Origin:
    """Who caused a response_url, where, and the ephemeral it may replace."""

    user: str
    channel: str
    ephemeral: str | None = None
    on_message: bool = False  # from a channel message (the fake edits it)


class SlackError(Exception):
    """The app answered a request as Slack would show an error."""


class Workspace:
    """People, channels and what each person sees; requests to the app."""

    def __init__(
        self,
        slack: FakeSlack,
        *,
        signing_secret: str,
        people: tuple[Person, ...] = PEOPLE,
        channels: dict[str, str] | None = None,
    ) -> None:
        self.slack = slack
        self.signing_secret = signing_secret
        self.people = {p.id: p for p in people}
        self.channels = dict(channels or CHANNELS)
        self.app_url = ""  # the app's request URL (…/slack/events)
        self.ephemerals: list[Json] = []
        self.modals: dict[str, list[str]] = {}  # user -> view ids, top last
        self.errors: dict[str, dict[str, str]] = {}  # view id -> block -> error
        self.home: dict[str, str] = {}  # user -> App Home view id
        self.version = 0
        self.closed = False  # set when the server stops: change feeds end
        self._changed = asyncio.Event()
        self._triggers: dict[str, str] = {}  # trigger_id -> user
        # The fake's message ts are a counter; when each was posted, to show.
        self._posted_at: dict[tuple[str, str], float] = {}
        self._origins: dict[str, _Origin] = {}  # response_url -> origin
        self._ids = itertools.count(1)
        self._http: aiohttp.ClientSession | None = None
        for person in people:
            slack.users[person.id] = {
                "name": person.name.split()[0].lower(),
                "real_name": person.name,
                "profile": {
                    "real_name": person.name,
                    "display_name": person.name.split()[0],
                    "email": None,
                },
            }
        for channel_id, name in self.channels.items():
            slack.channels[channel_id] = {"name": name}
        slack.call_watchers.append(self._on_call)
        slack.response_watchers.append(self._on_response)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ------------------------------------------------------------ change feed

    def changed(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, since: int, timeout: float) -> int:  # noqa: ASYNC109
        """The version once it is past ``since`` (or after ``timeout``)."""
        if self.version == since:
            waiter = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout)
        return self.version

    # --------------------------------------------------------- what Slack shows

    def conversation_of(self, key: str) -> str:
        """Where a message stored under ``key`` shows: a channel, or a person's
        DM with the bot (posts to a user ID or a D… channel)."""
        if key.startswith("D"):
            return f"dm:{self.slack.dm_user(key) or key}"
        if key in self.people:
            return f"dm:{key}"
        return key

    def snapshot(self) -> Json:
        """Everything the page shows, as JSON."""
        conversations: dict[str, list[Json]] = {}
        for key, messages in self.slack.messages.items():
            shown = conversations.setdefault(self.conversation_of(key), [])
            shown += [
                {
                    **{k: v for k, v in m.items() if v is not None},
                    "channel": key,
                    "posted_at": self._posted_at.get((key, m["ts"])),
                }
                for m in messages
            ]
        for shown in conversations.values():
            shown.sort(key=lambda m: float(m["ts"]))
        modals = {
            user: [self._view_shown(view_id) for view_id in stack]
            for user, stack in self.modals.items()
            if stack
        }
        home = {
            user: self.slack.views[view_id]
            for user, view_id in self.home.items()
            if view_id in self.slack.views
        }
        return {
            "version": self.version,
            "people": [vars(p) for p in self.people.values()],
            "channels": [{"id": c, "name": n} for c, n in self.channels.items()],
            "conversations": conversations,
            "ephemerals": self.ephemerals,
            "modals": modals,
            "home": home,
        }

    def _view_shown(self, view_id: str) -> Json:
        view = dict(self.slack.views.get(view_id) or {"id": view_id, "blocks": []})
        view["errors"] = self.errors.get(view_id, {})
        return view

    # ------------------------------------------------------ watching the fake

    def _on_call(self, call: SlackCall) -> None:
        body = call.response or {}
        if body.get("ok"):
            args = call.args
            view = body.get("view") or {}
            if call.method == "views.open":
                user = self._triggers.get(str(args.get("trigger_id")))
                if user is not None:
                    self.modals[user] = [view["id"]]
            elif call.method == "views.push":
                user = self._triggers.get(str(args.get("trigger_id")))
                if user is not None:
                    self.modals.setdefault(user, []).append(view["id"])
            elif call.method == "views.update":
                self.errors.pop(str(view.get("id")), None)
            elif call.method == "views.publish":
                self.home[str(args.get("user_id"))] = view["id"]
            elif call.method == "chat.postMessage":
                self._posted_at[(str(body["channel"]), str(body["ts"]))] = time.time()
            elif call.method == "chat.postEphemeral":
                self._add_ephemeral(
                    user=str(args.get("user")),
                    channel=str(args.get("channel")),
                    message=args,
                )
        self.changed()

    def _on_response(self, url: str, body: Json) -> None:
        origin = self._origins.get(url)
        if origin is None:
            return
        replace = str(body.get("replace_original")).lower() == "true"
        delete = str(body.get("delete_original")).lower() == "true"
        target = next((e for e in self.ephemerals if e["id"] == origin.ephemeral), None)
        if not (replace or delete):
            added = self._add_ephemeral(
                user=origin.user, channel=origin.channel, message=body
            )
            if origin.ephemeral is None and not origin.on_message:
                # A command's later replace_original replaces this one.
                origin.ephemeral = added["id"]
        elif target is not None and delete:
            self.ephemerals.remove(target)
        elif target is not None:
            target["text"] = body.get("text") or ""
            target["blocks"] = body.get("blocks") or []
        # Otherwise the fake Slack edits the channel message it points at.
        self.changed()

    def _add_ephemeral(self, *, user: str, channel: str, message: Json) -> Json:
        blocks = message.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        ephemeral = {
            "id": f"E{next(self._ids)}",
            "ts": f"{time.time():.6f}",
            "user": user,
            "channel": channel,
            "thread_ts": message.get("thread_ts"),
            "text": message.get("text") or "",
            "blocks": blocks,
        }
        self.ephemerals.append(ephemeral)
        return ephemeral

    # ------------------------------------------------------- requests to the app

    def _trigger(self, user: str) -> str:
        trigger = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(8)}"
        self._triggers[trigger] = user
        return trigger

    def _response_url(
        self,
        origin: _Origin,
        *,
        ts: str | None = None,
    ) -> str:
        url = self.slack.response_url(channel=origin.channel if ts else None, ts=ts)
        self._origins[url] = origin
        return url

    def _user(self, user: str) -> Json:
        name = self.slack.users.get(user, {}).get("name", user.lower())
        return {
            "id": user,
            "username": name,
            "name": name,
            "team_id": self.slack.team_id,
        }

    async def _post(self, body: str) -> tuple[int, str]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        headers = sign(body, self.signing_secret)
        async with self._http.post(self.app_url, data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    async def command(self, *, user: str, channel: str, text: str) -> None:
        """``/stripe <text>`` typed by ``user`` in ``channel``."""
        origin = _Origin(user, channel)
        body = slash_command_body(
            text=text,
            response_url=self._response_url(origin),
            user_id=user,
            channel_id=channel,
            channel_name=self.channels.get(channel, channel.lower()),
            trigger_id=self._trigger(user),
            team_id=self.slack.team_id,
            user_name=self._user(user)["name"],
        )
        status, answer = await self._post(body)
        if status != 200:
            raise SlackError(f'/stripe failed with the error "http_{status}"')
        if answer.strip():
            try:
                message = json.loads(answer)
            except ValueError:
                message = {"text": answer}
            self._add_ephemeral(user=user, channel=channel, message=message)
        self.changed()

    async def open_home(self, *, user: str) -> None:
        """``user`` opens the app's Home tab (app_home_opened)."""
        event: Json = {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user.removeprefix('U')}",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        if user in self.home:
            event["view"] = self.slack.views.get(self.home[user])
        body = event_callback_body(
            event=event, team_id=self.slack.team_id, bot_user_id=self.slack.bot_user_id
        )
        await self._post(body)

    async def click(
        self,
        *,
        user: str,
        action: Json,
        channel: str | None = None,
        ts: str | None = None,
        ephemeral: str | None = None,
        view_id: str | None = None,
        state: Json | None = None,
    ) -> None:
        """``user`` uses an interactive element (``action``: the element as the
        block has it plus ``block_id``, and the chosen value) on a message, an
        ephemeral message or a view (modal or App Home)."""
        action = {**action, "action_ts": f"{time.time():.6f}"}
        action.pop("confirm", None)
        payload: Json = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._trigger(user),
            "team": {"id": self.slack.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "state": {"values": state or {}},
            "actions": [action],
        }
        if view_id is not None:
            view = copy.deepcopy(self.slack.views[view_id])
            view["state"] = {"values": state or {}}
            payload["container"] = {
                "type": "view",
                "view_id": view_id,
            }
            payload["view"] = view
        else:
            if ephemeral is not None:
                shown = next(e for e in self.ephemerals if e["id"] == ephemeral)
                channel = str(shown["channel"])
                ts = str(shown["ts"])
                message = {
                    "type": "message",
                    "subtype": "bot_message",
                    "ts": ts,
                    "text": shown["text"],
                    "blocks": shown["blocks"],
                }
                origin = _Origin(user, channel, ephemeral)
                response_url = self._response_url(origin)
            else:
                if channel is None or ts is None:
                    raise ValueError("a message action needs channel and ts")
                message = dict(self.slack.message(channel, ts).items())
                response_url = self._response_url(
                    _Origin(user, channel, on_message=True), ts=ts
                )
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral is not None,
            }
            payload["channel"] = {
                "id": channel,
                "name": self.channels.get(str(channel), str(channel).lower()),
            }
            payload["message"] = {k: v for k, v in message.items() if v is not None}
            payload["response_url"] = response_url
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        status, _ = await self._post(body)
        if status != 200:
            raise SlackError(f"the app answered HTTP {status}")
        self.changed()

    async def submit(self, *, user: str, view_id: str, values: Json) -> Json:
        """``user`` presses the modal's submit button with ``values`` (Slack's
        ``state.values``); the app's answer is applied; returns it."""
        view = copy.deepcopy(self.slack.views[view_id])
        view["state"] = {"values": values}
        payload: Json = {
            "type": "view_submission",
            "team": {"id": self.slack.team_id, "domain": TEAM_DOMAIN},
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._trigger(user),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        status, text = await self._post(body)
        if status != 200:
            raise SlackError(f"the app answered HTTP {status}")
        answer: Json = json.loads(text) if text.strip() else {}
        self._apply_view_answer(user, view_id, answer)
        self.changed()
        return answer

    def _apply_view_answer(self, user: str, view_id: str, answer: Json) -> None:
        stack = self.modals.setdefault(user, [])
        action = answer.get("response_action")
        if action == "errors":
            self.errors[view_id] = dict(answer.get("errors") or {})
        elif action == "update":
            self.errors.pop(view_id, None)
            self.slack.views[view_id] = {
                **self.slack.views[view_id],
                **answer["view"],
                "id": view_id,
                "hash": self._hash(),
            }
        elif action == "push":
            pushed = f"V0SBX{next(self._ids):05d}"
            self.slack.views[pushed] = {
                **answer["view"],
                "id": pushed,
                "hash": self._hash(),
                "root_view_id": stack[0] if stack else pushed,
                "previous_view_id": stack[-1] if stack else None,
            }
            stack.append(pushed)
        elif action == "clear":
            stack.clear()
        elif view_id in stack:
            # An empty answer closes the view that was submitted.
            del stack[stack.index(view_id) :]

    def _hash(self) -> str:
        # A new hash for each version of a view, as Slack gives (the page
        # redraws a modal when its hash changes).
        return f"{int(time.time())}.sbx{next(self._ids)}"

    async def close(self, *, user: str, view_id: str) -> None:
        """``user`` closes the modal (Cancel, or the X)."""
        stack = self.modals.get(user, [])
        view = self.slack.views.get(view_id) or {}
        if view_id in stack:
            del stack[stack.index(view_id) :]
        if view.get("notify_on_close"):
            payload = {
                "type": "view_closed",
                "team": {"id": self.slack.team_id, "domain": TEAM_DOMAIN},
                "user": self._user(user),
                "api_app_id": APP_ID,
                "token": VERIFICATION_TOKEN,
                "view": view,
                "is_cleared": False,
            }
            await self._post(urlencode({"payload": json.dumps(payload)}))
        self.changed()

    def upload(self, *, user: str, content: bytes, name: str, mimetype: str) -> Json:
        """A file ``user`` picks in a modal's file input: stored in the fake
        Slack's files, so the app downloads it as it would from Slack."""
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        file = self.slack.add_file(
            content, name=name, mimetype=mimetype, filetype=filetype
        )
        file["user"] = user
        self.slack.files[file["id"]][0]["user"] = user
        return file
