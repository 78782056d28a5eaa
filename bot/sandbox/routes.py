"""The page's routes, added to the bot's own aiohttp app.

The page never talks to the bot directly: it asks the workspace (as a person
in Slack) or the Stripe panel (as Stripe), which send the bot what Slack and
Stripe send, signed as they sign it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from simulators.stripe_panel import StripePanel
from simulators.workspace import SlackError, Workspace

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
WORKSPACE = web.AppKey("sandbox_workspace", Workspace)
PANEL = web.AppKey("sandbox_panel", StripePanel)
# Live updates: at most this many snapshots a second per page, so a storm of
# events costs the page a few redraws, not one per message.
SSE_INTERVAL = 0.2
SSE_KEEPALIVE = 15.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_routes(app: web.Application, workspace: Workspace, panel: StripePanel) -> None:
    app[WORKSPACE] = workspace
    app[PANEL] = panel
    app.router.add_get("/", index)
    app.router.add_static("/sandbox/static", STATIC)
    app.router.add_get("/sandbox/api/state", state)
    app.router.add_get("/sandbox/api/events", events)
    app.router.add_post("/sandbox/api/command", _json(command))
    app.router.add_post("/sandbox/api/click", _json(click))
    app.router.add_post("/sandbox/api/submit", _json(submit))
    app.router.add_post("/sandbox/api/close", _json(close))
    app.router.add_post("/sandbox/api/home", _json(home))
    app.router.add_post("/sandbox/api/upload", upload)
    app.router.add_post("/sandbox/api/stripe/{action}", _json(stripe_action))
    app.on_shutdown.append(_end_streams)


async def _end_streams(app: web.Application) -> None:
    """Open pages' event streams end at once, so Ctrl-C does not wait on them."""
    app[WORKSPACE].closed = True
    app[WORKSPACE].changed()


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


def _snapshot(request: web.Request) -> dict[str, Any]:
    shown = request.app[WORKSPACE].snapshot()
    shown["stripe"] = request.app[PANEL].overview()
    return shown


async def state(request: web.Request) -> web.Response:
    return web.json_response(_snapshot(request))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the whole picture again whenever it changes."""
    workspace = request.app[WORKSPACE]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    seen = -1
    try:
        while not workspace.closed:
            version = await workspace.wait_changed(seen, SSE_KEEPALIVE)
            if version == seen:
                await response.write(b": keepalive\n\n")
                continue
            seen = version
            data = json.dumps(_snapshot(request), separators=(",", ":"))
            await response.write(f"event: state\ndata: {data}\n\n".encode())
            await asyncio.sleep(SSE_INTERVAL)
    except ConnectionResetError:
        pass  # the page was closed
    return response


def _json(
    handler: Callable[[web.Request, dict[str, Any]], Awaitable[Any]],
) -> Handler:
    """A JSON body in, a JSON answer out; a refusal is a 4xx the page shows."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("a JSON object is expected")
            answer = await handler(request, body)
        except SlackError as exc:
            return web.json_response({"error": str(exc)}, status=502)
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response(
                {"error": f"{type(exc).__name__}: {exc}"}, status=400
            )
        return web.json_response(answer if answer is not None else {"ok": True})

    return wrapped


def _person(request: web.Request, body: dict[str, Any]) -> str:
    user = str(body["user"])
    if user not in request.app[WORKSPACE].people:
        raise ValueError(f"nobody called {user} works here")
    return user


async def command(request: web.Request, body: dict[str, Any]) -> None:
    text = str(body["text"]).strip()
    text = text.removeprefix("/stripe").strip()
    await request.app[WORKSPACE].command(
        user=_person(request, body), channel=str(body["channel"]), text=text
    )


async def click(request: web.Request, body: dict[str, Any]) -> None:
    action = body["action"]
    if not isinstance(action, dict):
        raise TypeError("action must be an object")
    await request.app[WORKSPACE].click(
        user=_person(request, body),
        action=action,
        channel=body.get("channel"),
        ts=body.get("ts"),
        ephemeral=body.get("ephemeral"),
        view_id=body.get("view_id"),
        state=body.get("state"),
    )


async def submit(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    return await request.app[WORKSPACE].submit(
        user=_person(request, body),
        view_id=str(body["view_id"]),
        values=dict(body.get("values") or {}),
    )


async def close(request: web.Request, body: dict[str, Any]) -> None:
    await request.app[WORKSPACE].close(
        user=_person(request, body), view_id=str(body["view_id"])
    )


async def home(request: web.Request, body: dict[str, Any]) -> None:
    await request.app[WORKSPACE].open_home(user=_person(request, body))


async def upload(request: web.Request) -> web.Response:
    """A file picked in a modal's file input, stored in the fake Slack."""
    form = await request.post()
    user, file = form.get("user"), form.get("file")
    if not isinstance(user, str) or not isinstance(file, web.FileField):
        return web.json_response({"error": "user and file expected"}, status=400)
    stored = request.app[WORKSPACE].upload(
        user=user,
        content=file.file.read(),
        name=file.filename,
        mimetype=file.content_type or "application/octet-stream",
    )
    return web.json_response(stored)


async def stripe_action(request: web.Request, body: dict[str, Any]) -> Any:
    panel = request.app[PANEL]
    action = request.match_info["action"]
    actions: dict[str, Callable[..., Awaitable[Any]]] = {
        "payment": panel.payment,
        "failed_payment": panel.failed_payment,
        "dashboard_refund": panel.dashboard_refund,
        "dispute": panel.dispute,
        "close_dispute": panel.close_dispute,
        "failed_payout": panel.failed_payout,
        "early_fraud_warning": panel.early_fraud_warning,
        "storm": panel.storm,
    }
    if action not in actions:
        raise ValueError(f"no Stripe action {action}")
    result = await actions[action](**body)
    request.app[WORKSPACE].changed()
    return result
