"""A fake Slack Web API: a real aiohttp server on 127.0.0.1.

Point the bot at it with
``AsyncWebClient(token=fake.bot_token, base_url=fake.url)``. Every call is
recorded in :attr:`FakeSlack.calls` (even failed ones); messages posted by the bot
are kept in :attr:`FakeSlack.messages`, kept current by chat.update/chat.delete.

Besides ``/api/<method>`` the server answers:

* ``GET /files/<id>/<name>`` and ``/files/<id>/download/<name>``: file bytes, only
  with ``Authorization: Bearer <bot token>`` (else 302 to an HTML sign-in page, or
  403 HTML for a wrong token), or a 302 elsewhere for a file added with
  ``redirect_to`` - see :meth:`FakeSlack.add_file` (which also makes external
  files and files whose URLs name another host);
* ``POST /response/<key>``: response_url posts - see :meth:`FakeSlack.response_url`;
* ``GET /socket``: a websocket that says ``hello`` (Socket Mode), see
  :meth:`FakeSlack.socket_send`;
* control endpoints for other processes: ``GET /_calls``, ``GET /_responses``,
  ``GET /_messages``, ``POST /_reset``, ``POST /_fail_next`` (JSON with the
  arguments of :meth:`FakeSlack.fail_next`) and ``POST /_configure`` (JSON with
  any of latency, not_in_channel, channels_not_found, usergroups, users).

Standalone: ``python -m simulators.slack --port 0`` prints
``SLACK_API_URL=http://127.0.0.1:PORT/api/`` and serves until SIGTERM/SIGINT,
echoing each call as a JSON line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from aiohttp import WSMsgType, web

from .slack_requests import APP_ID, BOT_ID

DEFAULT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "chat:write.public",
    "users:read",
    "usergroups:read",
    "files:read",
    "channels:read",
    "groups:read",
    "im:write",
    "channels:history",
    "groups:history",
    "im:history",
    "files:write",
    "links:read",
    "links:write",
)

# Scope a method needs; a method missing here needs none (or is not checked).
REQUIRED_SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
    "files.info": "files:read",
    "conversations.info": "channels:read",
    "conversations.open": "im:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "chat.unfurl": "links:write",
    # conversations.history / .replies: the scope depends on the conversation
    # (channels:, groups: or im:history), see FakeSlack._history_scope.
}

# Arguments that slack_sdk sends as JSON strings inside form/query bodies.
_JSON_ARGS = (
    "blocks",
    "attachments",
    "metadata",
    "view",
    "user_auth_blocks",
    "unfurls",
    "files",
)
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000

_SIGNIN_HTML = (
    "<!DOCTYPE html><html><head><title>Slack</title></head>"
    "<body><h1>Sign in to Fake Workspace</h1></body></html>"
)

Json = dict[str, Any]


@dataclass
class SlackCall:
    method: str
    args: dict[str, Any]
    token: str | None
    headers: dict[str, str]  # keys lower-cased
    status: int | None = None  # HTTP status answered (None while in flight)
    response: dict[str, Any] | None = None  # JSON body answered
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class Hold:
    """Calls to `method` wait here until `release()`; `arrived` counts them."""

    method: str
    arrived: int = 0
    _open: asyncio.Event = field(default_factory=asyncio.Event)
    _requests: list[web.Request] = field(default_factory=list)

    @property
    def caller_waiting(self) -> int:
        """Held calls whose caller is still connected (has not given up)."""
        return sum(
            r.transport is not None and not r.transport.is_closing()
            for r in self._requests
        )

    def release(self) -> None:
        self._open.set()

    async def wait(self, request: web.Request) -> None:
        self.arrived += 1
        self._requests.append(request)
        await self._open.wait()


@dataclass
class _Failure:
    method: str | None
    status: int
    remaining: int
    retry_after: int | None
    error: str | None
    # The call takes effect (a post is made) before the failure is answered.
    after_effect: bool = False


@dataclass
class _LateAnswer:
    method: str | None
    seconds: float
    remaining: int


def _mimetype(name: str) -> str:
    kinds = {
        "csv": "text/csv",
        "png": "image/png",
        "pdf": "application/pdf",
        "txt": "text/plain",
        "json": "application/json",
    }
    return kinds.get(name.rpartition(".")[2].lower(), "application/octet-stream")


def _err(error: str, **extra: Any) -> Json:
    return {"ok": False, "error": error, **extra}


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


async def _parse_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Query string + body (JSON, form or multipart) as slack_sdk sends them."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            raw = await request.text()
            try:
                data = json.loads(raw) if raw.strip() else {}
            except ValueError:
                return args, "invalid_json"
            if not isinstance(data, dict):
                return args, "invalid_json"
            args.update(data)
        elif request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            for key, field in (await request.post()).items():
                if isinstance(field, web.FileField):
                    args[key] = field.filename
                elif isinstance(field, str):
                    args[key] = field
                else:
                    args[key] = field.decode(errors="replace")
        else:
            await request.read()
    for key in _JSON_ARGS:
        raw_json = args.get(key)
        if isinstance(raw_json, str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(raw_json)
    return args, None


class FakeSlack:
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        team_id: str = "T0001",
        bot_user_id: str = "U0BOT",
        bot_id: str = BOT_ID,
    ) -> None:
        self.bot_token = bot_token
        self.scopes = list(scopes)
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = APP_ID
        self.url = ""
        self.base = ""
        self.port: int | None = None
        self.latency = 0.0
        # Slack's pace for posts: at most one a second per channel, a 429 with
        # Retry-After for the rest (0: no pacing, as most tests want).
        self.channel_pace = 0.0
        self._last_post: dict[str, float] = {}
        self.echo: TextIO | None = None  # each call as a JSON line (standalone)
        self.calls: list[SlackCall] = []
        self.messages: dict[str, list[Json]] = {}
        self.not_in_channel: set[str] = set()
        self.channels_not_found: set[str] = set()
        self.channels: dict[str, Json] = {}  # extra fields for conversations.info
        self.usergroups: dict[str, list[str]] = {}
        self.users: dict[str, Json] = {}
        self.views: dict[str, Json] = {}  # view id -> latest view
        self.files: dict[str, tuple[Json, bytes]] = {}
        self.file_redirects: dict[str, str] = {}  # file ID -> where it redirects
        # files_upload_v2: getUploadURLExternal -> POST bytes -> completeUpload
        # file ID -> {filename, length, data, headers}, until completed
        self.uploads: dict[str, Json] = {}
        self.upload_headers: list[dict[str, str]] = []  # of every upload POST
        self.unfurls: list[Json] = []  # chat.unfurl arguments, in order
        self.responses: dict[str, list[Json]] = {}
        self.response_posts: list[tuple[str, Json]] = []
        self.socket_received: list[Json] = []  # JSON frames the client sent
        self._response_targets: dict[str, tuple[str, str]] = {}
        self._home_views: dict[str, str] = {}
        self._failures: list[_Failure] = []
        self._late: list[_LateAnswer] = []
        self._dm_channels: dict[str, str] = {}  # D… id -> the user it is with
        self._holds: list[Hold] = []
        self._seq = itertools.count(1)
        self._ts_seq = itertools.count(1)
        self._changed = asyncio.Event()
        self._sockets: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None
        # Called with each answered call, and with each response_url post: the
        # sandbox's workspace keeps what Slack shows (ephemerals, modals) by them.
        self.call_watchers: list[Callable[[SlackCall], None]] = []
        self.response_watchers: list[Callable[[str, Json], None]] = []
        self._handlers: dict[str, Callable[[SlackCall], Json]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "usergroups.users.list": self._usergroups_users_list,
            "users.info": self._users_info,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "chat.unfurl": self._chat_unfurl,
            "apps.connections.open": self._apps_connections_open,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> None:
        # Slack takes files up to 1 GB; aiohttp's default stops at 1 MB (a
        # storm summary's CSV of 20,000 events is about 2 MB).
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files/{file_id}/{name}", self._file)
        app.router.add_get("/files/{file_id}/download/{name}", self._file)
        app.router.add_get("/signin", self._signin)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/_calls", self._ctl_calls)
        app.router.add_get("/_responses", self._ctl_responses)
        app.router.add_get("/_messages", self._ctl_messages)
        app.router.add_post("/_reset", self._ctl_reset)
        app.router.add_post("/_fail_next", self._ctl_fail_next)
        app.router.add_post("/_configure", self._ctl_configure)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/api/"

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def go_down(self) -> None:
        """Stop listening and drop open connections; the port is remembered."""
        await self.stop()

    async def come_back(self) -> None:
        if self.port is None:
            raise RuntimeError("come_back() before start()")
        if self._runner is None:
            await self.start(self.port)

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ test API

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    async def wait_for_calls(
        self,
        method: str,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[SlackCall]:
        """Wait until ``count`` calls to ``method`` have been *answered* (so their
        effects, e.g. on :attr:`messages`, are visible); returns all its calls."""

        def answered() -> int:
            return sum(c.status is not None for c in self.calls_to(method))

        def describe() -> str:
            seen = ", ".join(f"{c.method}({c.status})" for c in self.calls[-20:])
            return (
                f"waited {timeout}s for {count} answered call(s) to {method}, got "
                f"{answered()}; last calls (HTTP status, None=in flight): [{seen}]"
            )

        await self._wait_until(lambda: answered() >= count, timeout, describe)
        return self.calls_to(method)

    async def wait_for_response(
        self,
        url: str,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[Json]:
        def describe() -> str:
            got = len(self.responses.get(url, []))
            return (
                f"waited {timeout}s for {count} post(s) to {url}, got {got}; "
                f"posts seen to: {sorted(self.responses)}"
            )

        await self._wait_until(
            lambda: len(self.responses.get(url, [])) >= count, timeout, describe
        )
        return self.responses[url]

    def fail_next(
        self,
        method: str | None,
        *,
        status: int = 500,
        count: int = 1,
        retry_after: int | None = None,
        error: str | None = None,
        after_effect: bool = False,
    ) -> None:
        """Make the next ``count`` calls to ``method`` (None: any) fail.

        With ``after_effect`` the call does what it asks (the message is posted)
        and is then answered with the failure, as when Slack acts and then
        errs or drops the answer."""
        self._failures.append(
            _Failure(method, status, count, retry_after, error, after_effect)
        )

    def answer_late(self, method: str | None, seconds: float, count: int = 1) -> None:
        """The next ``count`` calls to ``method`` take effect at once (the post
        is made, visible in history) but are answered only after ``seconds``:
        longer than the client's timeout, the client never sees the answer."""
        self._late.append(_LateAnswer(method, seconds, count))

    def hold(self, method: str) -> Hold:
        """Keep calls to ``method`` in flight (recorded, status None) until the
        returned Hold is released: tests order concurrent work with it."""
        hold = Hold(method)
        self._holds.append(hold)
        return hold

    def message(self, channel: str, ts: str) -> Json:
        for msg in self.messages.get(channel, []):
            if msg["ts"] == ts:
                return msg
        known = [m["ts"] for m in self.messages.get(channel, [])]
        raise KeyError(f"no message {ts} in {channel}; messages there: {known}")

    def add_file(
        self,
        content: bytes,
        *,
        name: str,
        mimetype: str,
        filetype: str,
        external_url: str | None = None,
        url: str | None = None,
        redirect_to: str | None = None,
    ) -> Json:
        """A file as files.info describes it.

        ``external_url``: a link to a file kept elsewhere (Google Drive, a remote
        file), which Slack lists with ``is_external`` and that URL. ``url``: a
        hosted file whose download URLs name another host. ``redirect_to``: the
        file route answers an authorized download with a 302 to that URL.
        """
        if not self.base:
            raise RuntimeError("add_file() needs a started FakeSlack")
        file_id = f"F0FAKE{next(self._seq):05d}"
        if redirect_to is not None:
            self.file_redirects[file_id] = redirect_to
        file = {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": "U_AGENT",
            "user_team": self.team_id,
            "mode": "hosted",
            "is_external": False,
            "is_public": False,
            "size": len(content),
            "url_private": f"{self.base}/files/{file_id}/{name}",
            "url_private_download": f"{self.base}/files/{file_id}/download/{name}",
            "permalink": f"{self.base}/files/{file_id}/{name}",
        }
        if url is not None:
            file["url_private"] = file["url_private_download"] = url
        if external_url is not None:
            # Slack's shape for an external (e.g. Google Drive) file: no
            # download URL of its own, the link is where the file lives.
            file.update(
                mode="external",
                is_external=True,
                external_type="gdrive",
                external_url=external_url,
                url_private=external_url,
            )
            del file["url_private_download"]
        self.files[file_id] = (file, content)
        return dict(file)

    def response_url(self, *, channel: str | None = None, ts: str | None = None) -> str:
        """A fresh response_url. With channel+ts, posts with replace_original /
        delete_original update that message in :attr:`messages`."""
        key = str(next(self._seq))
        if channel is not None and ts is not None:
            self._response_targets[key] = (channel, ts)
        return f"{self.base}/response/{key}"

    async def socket_send(self, envelope: Json) -> None:
        """Send a Socket Mode envelope to every connected websocket."""
        for ws in list(self._sockets):
            await ws.send_json(envelope)

    def dm_user(self, channel: str) -> str | None:
        """The user a DM channel (D…) from conversations.open is with."""
        return self._dm_channels.get(channel)

    def reset(self) -> None:
        """Forget recorded calls and response posts (state such as messages stays)."""
        self.calls.clear()
        self.responses.clear()
        self.response_posts.clear()
        self.socket_received.clear()
        self.unfurls.clear()

    # ------------------------------------------------------------------ internals

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(
        self, done: Callable[[], bool], seconds: float, describe: Callable[[], str]
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(describe())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def _next_ts(self) -> str:
        micros = next(self._ts_seq) * 100
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _take_late(self, method: str) -> float:
        for late in self._late:
            if late.method in (None, method):
                late.remaining -= 1
                if late.remaining <= 0:
                    self._late.remove(late)
                return late.seconds
        return 0.0

    def _paced_out(self, method: str, args: dict[str, Any]) -> _Failure | None:
        """A 429 for a post that comes sooner than `channel_pace` after the
        channel's last one (Slack's one message a second per channel)."""
        if self.channel_pace <= 0 or method != "chat.postMessage":
            return None
        channel, now = str(args.get("channel")), time.monotonic()
        wait = self._last_post.get(channel, -math.inf) + self.channel_pace - now
        if wait > 0:
            return _Failure(method, 429, 1, math.ceil(wait), "ratelimited")
        self._last_post[channel] = now
        return None

    def _take_failure(self, method: str) -> _Failure | None:
        for failure in self._failures:
            if failure.method in (None, method):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        if method == "apps.connections.open":
            if token.startswith("xapp-"):
                return None
            return (
                "not_allowed_token_type" if token == self.bot_token else "invalid_auth"
            )
        return None if token == self.bot_token else "invalid_auth"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args, parse_error = await _parse_args(request)
        token = _bearer(request.headers.get("Authorization"))
        body_token = args.pop("token", None)
        token = token or (body_token if isinstance(body_token, str) else None)
        headers = {k.lower(): v for k, v in request.headers.items()}
        call = SlackCall(method, args, token, headers)
        self.calls.append(call)
        self._notify()
        if self.echo is not None:
            line = json.dumps({"method": method, "args": args}, default=str)
            print(line, file=self.echo, flush=True)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        for hold in list(self._holds):
            if hold.method == method:
                await hold.wait(request)

        status, extra_headers = 200, {}
        failure = self._take_failure(method) or self._paced_out(method, args)
        if failure is not None and failure.after_effect:
            self._answer(method, call, token, parse_error)
        if failure is not None:
            status = failure.status
            if status == 429:
                extra_headers["Retry-After"] = str(
                    1 if failure.retry_after is None else failure.retry_after
                )
                body = _err(failure.error or "ratelimited")
            elif status >= 500:
                body = _err(failure.error or "internal_error")
            else:
                body = _err(failure.error or "fatal_error")
        else:
            body, extra_headers = self._answer(method, call, token, parse_error)
        call.status, call.response = status, body
        for watch in list(self.call_watchers):
            watch(call)
        self._notify()
        if (late := self._take_late(method)) > 0:
            # Done and visible already; only the answer is late.
            await asyncio.sleep(late)
        return web.json_response(body, status=status, headers=extra_headers)

    def _answer(
        self, method: str, call: SlackCall, token: str | None, parse_error: str | None
    ) -> tuple[Json, dict[str, str]]:
        extra_headers: dict[str, str] = {}
        if parse_error is not None:
            body = _err(parse_error)
        elif (handler := self._handlers.get(method)) is None:
            body = _err("unknown_method")
        elif (auth_error := self._auth_error(method, token)) is not None:
            body = _err(auth_error)
        else:
            extra_headers["x-oauth-scopes"] = ",".join(self.scopes)
            needed = REQUIRED_SCOPES.get(method) or self._history_scope(method, call)
            if needed is not None and needed not in self.scopes:
                provided = ",".join(self.scopes)
                body = _err("missing_scope", needed=needed, provided=provided)
            else:
                body = handler(call)
        return body, extra_headers

    # ------------------------------------------------------------- API methods

    def _auth_test(self, call: SlackCall) -> Json:
        return {
            "ok": True,
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "stripe-ops",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _channel_error(self, channel: Any, *, membership: bool = True) -> str | None:
        if not channel or channel in self.channels_not_found:
            return "channel_not_found"
        if membership and channel in self.not_in_channel:
            return "not_in_channel"
        return None

    @staticmethod
    def _content_error(args: dict[str, Any], *, need_content: bool) -> str | None:
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            return "invalid_blocks_format"
        if isinstance(blocks, list) and len(blocks) > MAX_MESSAGE_BLOCKS:
            return "invalid_blocks"
        if len(str(args.get("text") or "")) > MAX_TEXT:
            return "msg_too_long"
        if need_content and not (args.get("text") or blocks or args.get("attachments")):
            return "no_text"
        return None

    @staticmethod
    def _public(msg: Json) -> Json:
        return {k: v for k, v in msg.items() if v is not None}

    def _chat_post_message(self, call: SlackCall) -> Json:
        args = call.args
        channel = args.get("channel")
        error = self._channel_error(channel) or self._content_error(
            args, need_content=True
        )
        if error:
            return _err(error)
        ts = self._next_ts()
        msg: Json = {
            "type": "message",
            "ts": ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": args.get("text") or "",
            "blocks": args.get("blocks") or [],
            "attachments": args.get("attachments"),
            "thread_ts": args.get("thread_ts"),
            "reply_broadcast": _truthy(args.get("reply_broadcast")),
            "metadata": args.get("metadata"),
        }
        self.messages.setdefault(str(channel), []).append(msg)
        return {"ok": True, "channel": channel, "ts": ts, "message": self._public(msg)}

    def _find(self, channel: Any, ts: Any) -> Json | None:
        for msg in self.messages.get(str(channel), []):
            if msg["ts"] == ts:
                return msg
        return None

    def _chat_update(self, call: SlackCall) -> Json:
        args = call.args
        channel = args.get("channel")
        msg = self._find(channel, args.get("ts"))
        error = self._channel_error(channel, membership=False)
        if error is None and msg is None:
            error = "message_not_found"
        error = error or self._content_error(args, need_content=False)
        if error or msg is None:
            return _err(error or "message_not_found")
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in args:
                msg[key] = args[key]
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": msg["ts"],
            "text": msg["text"],
            "message": self._public(msg),
        }

    def _chat_delete(self, call: SlackCall) -> Json:
        channel, ts = call.args.get("channel"), call.args.get("ts")
        msg = self._find(channel, ts)
        if msg is None:
            return _err(self._channel_error(channel) or "message_not_found")
        self.messages[str(channel)].remove(msg)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, call: SlackCall) -> Json:
        args = call.args
        error = self._channel_error(args.get("channel")) or self._content_error(
            args, need_content=True
        )
        if error is None and not args.get("user"):
            error = "user_not_in_channel"
        if error:
            return _err(error)
        return {"ok": True, "message_ts": self._next_ts()}

    def _store_view(self, submitted: Json, view_id: str | None = None) -> Json:
        view_id = view_id or f"V0FAKE{next(self._seq):05d}"
        previous = self.views.get(view_id, {})
        view: Json = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": None,
            "root_view_id": previous.get("root_view_id", view_id),
            "app_id": self.app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
            **submitted,
        }
        view["id"] = view_id
        view["hash"] = f"{int(time.time())}.fake{next(self._seq)}"
        self.views[view_id] = view
        return view

    @staticmethod
    def _view_error(view: Any) -> str | None:
        if not isinstance(view, dict):
            return "invalid_arguments"
        if len(view.get("blocks") or []) > MAX_VIEW_BLOCKS:
            return "invalid_arguments"
        title = view.get("title")
        if view.get("type", "modal") == "modal" and (
            not isinstance(title, dict) or len(str(title.get("text", ""))) > 24
        ):
            return "invalid_arguments"
        if len(str(view.get("private_metadata") or "")) > 3000:
            return "invalid_arguments"
        return None

    def _views_open(self, call: SlackCall) -> Json:
        view = call.args.get("view")
        if not call.args.get("trigger_id"):
            return _err("invalid_arguments")
        error = self._view_error(view)
        if error or not isinstance(view, dict):
            return _err(error or "invalid_arguments")
        return {"ok": True, "view": self._store_view(view)}

    def _views_update(self, call: SlackCall) -> Json:
        view = call.args.get("view")
        view_id = call.args.get("view_id")
        external_id = call.args.get("external_id")
        if external_id and not view_id:
            found = [v for v in self.views.values() if v["external_id"] == external_id]
            if not found:
                return _err("not_found")
            view_id = found[0]["id"]
        if not view_id:
            return _err("invalid_arguments")
        error = self._view_error(view)
        if error or not isinstance(view, dict):
            return _err(error or "invalid_arguments")
        # Lenient: an unknown view_id (e.g. from a built view_submission) is accepted.
        return {"ok": True, "view": self._store_view(view, str(view_id))}

    def _views_publish(self, call: SlackCall) -> Json:
        view = call.args.get("view")
        user_id = call.args.get("user_id")
        if not user_id:
            return _err("invalid_arguments")
        error = self._view_error(view)
        if error or not isinstance(view, dict):
            return _err(error or "invalid_arguments")
        stored = self._store_view(view, self._home_views.get(str(user_id)))
        self._home_views[str(user_id)] = stored["id"]
        return {"ok": True, "view": stored}

    def _channel_object(self, channel: str) -> Json:
        return {
            "id": channel,
            "name": channel.lower(),
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_private": False,
            "is_archived": False,
            "is_member": channel not in self.not_in_channel,
            **self.channels.get(channel, {}),
        }

    def _conversations_info(self, call: SlackCall) -> Json:
        channel = call.args.get("channel")
        if (error := self._channel_error(channel, membership=False)) is not None:
            return _err(error)
        return {"ok": True, "channel": self._channel_object(str(channel))}

    def _conversations_join(self, call: SlackCall) -> Json:
        channel = call.args.get("channel")
        if (error := self._channel_error(channel, membership=False)) is not None:
            return _err(error)
        self.not_in_channel.discard(str(channel))
        return {"ok": True, "channel": self._channel_object(str(channel))}

    def _conversations_open(self, call: SlackCall) -> Json:
        users = [u for u in str(call.args.get("users") or "").split(",") if u]
        if len(users) != 1:
            return _err("users_list_not_supplied" if not users else "not_supported")
        user = users[0]
        found = [dm for dm, other in self._dm_channels.items() if other == user]
        dm = found[0] if found else f"D0FAKE{next(self._seq):05d}"
        self._dm_channels[dm] = user
        return {"ok": True, "channel": {"id": dm}}

    def _history_scope(self, method: str, call: SlackCall) -> str | None:
        if method not in ("conversations.history", "conversations.replies"):
            return None
        channel = str(call.args.get("channel") or "")
        if channel.startswith("D"):
            return "im:history"
        if self.channels.get(channel, {}).get("is_private"):
            return "groups:history"
        return "channels:history"

    def _readable(self, channel: Any) -> tuple[str | None, list[Json]]:
        """(error, messages oldest first) of a conversation the bot reads."""
        channel = str(channel or "")
        if channel.startswith("D"):
            user = self._dm_channels.get(channel)
            if user is None:
                return "channel_not_found", []
            # Posts to a user ID land in the DM (kept here under the user ID).
            return None, self.messages.get(user, []) + self.messages.get(channel, [])
        error = self._channel_error(channel)
        return error, [] if error else self.messages.get(channel, [])

    @staticmethod
    def _page(call: SlackCall, messages: list[Json], *, key: str = "messages") -> Json:
        args = call.args
        try:
            limit = min(max(int(args.get("limit") or 100), 1), 999)
            start = int(str(args.get("cursor") or "0").removeprefix("next:"))
        except ValueError:
            return _err("invalid_cursor")
        with_metadata = _truthy(args.get("include_all_metadata"))
        inclusive = _truthy(args.get("inclusive"))
        oldest = float(args.get("oldest") or 0)
        latest = float(args["latest"]) if args.get("latest") else None

        def within(msg: Json) -> bool:
            ts = float(msg["ts"])
            if ts < oldest or (ts == oldest and not inclusive and oldest):
                return False
            return latest is None or ts < latest or (ts == latest and inclusive)

        selected = [m for m in messages if within(m)]
        page = selected[start : start + limit]
        more = start + limit < len(selected)
        out = []
        for msg in page:
            shown = FakeSlack._public(msg)
            if not with_metadata:
                shown.pop("metadata", None)
            out.append(shown)
        return {
            "ok": True,
            key: out,
            "has_more": more,
            "response_metadata": {
                "next_cursor": f"next:{start + limit}" if more else ""
            },
        }

    def _conversations_history(self, call: SlackCall) -> Json:
        error, messages = self._readable(call.args.get("channel"))
        if error:
            return _err(error)
        # Newest first; thread replies only when broadcast to the channel.
        top = [
            m
            for m in reversed(messages)
            if not m.get("thread_ts") or m.get("reply_broadcast")
        ]
        return self._page(call, top)

    def _conversations_replies(self, call: SlackCall) -> Json:
        error, messages = self._readable(call.args.get("channel"))
        if error:
            return _err(error)
        ts = call.args.get("ts")
        parent = [m for m in messages if m["ts"] == ts]
        if not parent:
            return _err("thread_not_found")
        replies = [m for m in messages if m.get("thread_ts") == ts and m["ts"] != ts]
        # The parent first, then its replies oldest first.
        return self._page(call, parent + replies)

    def _usergroups_users_list(self, call: SlackCall) -> Json:
        users = self.usergroups.get(str(call.args.get("usergroup")))
        if users is None:
            return _err("no_such_subteam")
        return {"ok": True, "users": list(users)}

    def _users_info(self, call: SlackCall) -> Json:
        user_id = str(call.args.get("user"))
        if user_id not in self.users and user_id != self.bot_user_id:
            return _err("user_not_found")
        name = "stripe-ops" if user_id == self.bot_user_id else user_id.lower()
        user: Json = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name,
            "deleted": False,
            "is_bot": user_id == self.bot_user_id,
            "is_admin": False,
            "tz": "Etc/UTC",
            "tz_offset": 0,
            "profile": {"real_name": name, "display_name": name, "email": None},
            **self.users.get(user_id, {}),
        }
        return {"ok": True, "user": user}

    def _files_info(self, call: SlackCall) -> Json:
        entry = self.files.get(str(call.args.get("file")))
        if entry is None:
            return _err("file_not_found")
        return {
            "ok": True,
            "file": dict(entry[0]),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _files_get_upload_url(self, call: SlackCall) -> Json:
        filename = str(call.args.get("filename") or "")
        try:
            length = int(call.args.get("length") or 0)
        except (TypeError, ValueError):
            length = 0
        if not filename:
            return _err("invalid_arguments")
        if length <= 0:
            return _err("invalid_length")
        file_id = f"F0UPLD{next(self._seq):05d}"
        self.uploads[file_id] = {"filename": filename, "length": length, "data": None}
        return {
            "ok": True,
            "upload_url": f"{self.base}/upload/{file_id}",
            "file_id": file_id,
        }

    def _files_complete_upload(self, call: SlackCall) -> Json:
        args = call.args
        items = args.get("files")
        if not isinstance(items, list) or not items:
            return _err("invalid_arguments")
        channel = args.get("channel_id")
        if channel and (error := self._channel_error(channel)):
            return _err(error)
        done: list[tuple[Json, Json]] = []
        for item in items:
            found = self.uploads.get(str(item.get("id")))
            if found is None or found["data"] is None:
                # Slack's answer for a file ID never uploaded to its URL.
                return _err("file_not_found")
            done.append((item, found))
        shared: list[Json] = []
        for item, upload in done:
            file_id = str(item["id"])
            del self.uploads[file_id]
            name = upload["filename"]
            file = {
                "id": file_id,
                "created": int(time.time()),
                "timestamp": int(time.time()),
                "name": name,
                "title": item.get("title") or name,
                "mimetype": _mimetype(name),
                "filetype": name.rpartition(".")[2].lower() or "binary",
                "user": self.bot_user_id,
                "user_team": self.team_id,
                "mode": "hosted",
                "is_external": False,
                "size": len(upload["data"]),
                "url_private": f"{self.base}/files/{file_id}/{name}",
                "url_private_download": f"{self.base}/files/{file_id}/download/{name}",
                "permalink": f"{self.base}/files/{file_id}/{name}",
            }
            self.files[file_id] = (file, upload["data"])
            shared.append(file)
        if channel:
            ts = self._next_ts()
            self.messages.setdefault(str(channel), []).append(
                {
                    "type": "message",
                    "subtype": "file_share",
                    "ts": ts,
                    "user": self.bot_user_id,
                    "bot_id": self.bot_id,
                    "app_id": self.app_id,
                    "team": self.team_id,
                    "text": args.get("initial_comment") or "",
                    "blocks": [],
                    "files": [dict(f) for f in shared],
                    "thread_ts": args.get("thread_ts"),
                }
            )
        return {
            "ok": True,
            "files": [{"id": f["id"], "title": f["title"]} for f in shared],
        }

    def content_of(self, file_id: str) -> bytes:
        """The bytes of a file the bot uploaded (or that a test added)."""
        return self.files[file_id][1]

    def _chat_unfurl(self, call: SlackCall) -> Json:
        args = call.args
        unfurls = args.get("unfurls")
        has_target = args.get("channel") and args.get("ts")
        if not has_target and not (args.get("source") and args.get("unfurl_id")):
            return _err("invalid_arguments")
        if not isinstance(unfurls, dict) or not unfurls:
            return _err("invalid_unfurls_format")
        for url, unfurl in unfurls.items():
            if not isinstance(unfurl, dict) or not (
                unfurl.get("blocks") or unfurl.get("text") or unfurl.get("preview")
            ):
                return _err("invalid_unfurls_format", url=url)
            blocks = unfurl.get("blocks")
            if isinstance(blocks, list) and len(blocks) > MAX_MESSAGE_BLOCKS:
                return _err("invalid_blocks")
        self.unfurls.append(dict(args))
        return {"ok": True}

    def _apps_connections_open(self, call: SlackCall) -> Json:
        ticket = next(self._seq)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}"}

    # ------------------------------------------------------------ other routes

    async def _file(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization")
        if auth is None:
            raise web.HTTPFound(
                f"/signin?redir={request.path}",
                text=_SIGNIN_HTML,
                content_type="text/html",
            )
        if _bearer(auth) != self.bot_token:
            raise web.HTTPForbidden(text=_SIGNIN_HTML, content_type="text/html")
        entry = self.files.get(request.match_info["file_id"])
        if entry is None or entry[0]["name"] != request.match_info["name"]:
            raise web.HTTPNotFound(
                text="<html>File not found</html>", content_type="text/html"
            )
        file, content = entry
        if (target := self.file_redirects.get(file["id"])) is not None:
            raise web.HTTPFound(target)
        headers = {"Content-Type": file["mimetype"]}
        if "/download/" in request.path:
            headers["Content-Disposition"] = f'attachment; filename="{file["name"]}"'
        return web.Response(body=content, headers=headers)

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL of files_upload_v2: raw bytes, no token (as Slack's)."""
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="Not Found")
        data = await request.read()
        if len(data) != upload["length"]:
            return web.Response(status=400, text="length mismatch")
        upload["data"] = data
        # What came with the bytes: a test holds the bot's token out of them.
        self.upload_headers.append(dict(request.headers))
        return web.Response(text=f"OK - {len(data)}")

    async def _signin(self, request: web.Request) -> web.Response:
        return web.Response(text=_SIGNIN_HTML, content_type="text/html")

    async def _response(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        url = f"{self.base}/response/{key}"
        self.responses.setdefault(url, []).append(body)
        self.response_posts.append((url, body))
        for watch in list(self.response_watchers):
            watch(url, body)
        if (target := self._response_targets.get(key)) is not None:
            msg = self._find(*target)
            if msg is not None and _truthy(body.get("delete_original")):
                self.messages[target[0]].remove(msg)
            elif msg is not None and _truthy(body.get("replace_original")):
                for field in ("text", "blocks", "attachments"):
                    if field in body:
                        msg[field] = body[field]
        self._notify()
        return web.json_response({"ok": True})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {
                        "host": "fake-slack",
                        "approximate_connection_time": 3600,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    with contextlib.suppress(ValueError):
                        self.socket_received.append(json.loads(frame.data))
                        self._notify()
        finally:
            self._sockets.discard(ws)
        return ws

    async def _ctl_calls(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(c) for c in self.calls], dumps=_dumps)

    async def _ctl_responses(self, request: web.Request) -> web.Response:
        posts = [{"url": url, "body": body} for url, body in self.response_posts]
        return web.json_response(posts, dumps=_dumps)

    async def _ctl_messages(self, request: web.Request) -> web.Response:
        return web.json_response(self.messages, dumps=_dumps)

    async def _ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _ctl_fail_next(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.fail_next(
            spec.get("method"),
            status=int(spec.get("status", 500)),
            count=int(spec.get("count", 1)),
            retry_after=spec.get("retry_after"),
            error=spec.get("error"),
        )
        return web.json_response({"ok": True})

    async def _ctl_configure(self, request: web.Request) -> web.Response:
        spec = await request.json()
        if "latency" in spec:
            self.latency = float(spec["latency"])
        for name in ("not_in_channel", "channels_not_found"):
            if name in spec:
                setattr(self, name, set(spec[name]))
        for name in ("usergroups", "users", "channels"):
            if name in spec:
                getattr(self, name).update(spec[name])
        return web.json_response({"ok": True})


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str)


async def _serve(opts: argparse.Namespace) -> None:
    fake = FakeSlack(bot_token=opts.bot_token, scopes=opts.scopes.split(","))
    fake.latency = opts.latency
    fake.channel_pace = opts.channel_pace
    fake.echo = sys.stderr
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # before printing the URL
        loop.add_signal_handler(sig, stop.set)
    await fake.start(opts.port)
    print(f"SLACK_API_URL={fake.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Slack Web API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bot-token", default="xoxb-test-token")
    parser.add_argument("--scopes", default=",".join(DEFAULT_SCOPES))
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per call")
    parser.add_argument(
        "--channel-pace",
        type=float,
        default=0.0,
        help="seconds between posts to one channel; sooner ones get a 429",
    )
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
