"""Who may do what: support agents use the bot, managers approve refunds.

`register` puts the support check in front of every Slack listener (one Bolt
global middleware): commands, buttons, modals, the Home tab, and any listener
added later (link previews) answer someone outside `SUPPORT_*` with a short
note and nothing about customers, payments or disputes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot.blocks.disputes import info_modal
from bot.blocks.home import outsider_home_view
from bot.deps import Deps
from bot.tell import tell_user

log = logging.getLogger(__name__)

# How long a "yes, a member" is believed. A "no" (or a Slack error) is never
# remembered: someone just added may act at once, and someone removed is
# refused within this minute.
GROUP_YES_TTL_SECONDS = 60.0


async def in_usergroup(deps: Deps, usergroup: str, user_id: str) -> bool:
    """Whether the user is in the Slack user group, read afresh unless a "yes"
    was read less than a minute ago (by `deps.clock`)."""
    now = deps.clock.now()
    cached = deps.group_cache.get(usergroup)
    if (
        cached is not None
        and 0 <= now - cached[0] < GROUP_YES_TTL_SECONDS
        and user_id in cached[1]
    ):
        return True
    try:
        resp = await deps.slack.usergroups_users_list(usergroup=usergroup)
    except SlackApiError as exc:
        log.error("cannot read user group %s: %s", usergroup, exc.response.get("error"))
        deps.group_cache.pop(usergroup, None)
        return False
    members = frozenset(str(u) for u in resp.get("users") or [])
    deps.group_cache[usergroup] = (now, members)
    return user_id in members


async def is_manager(deps: Deps, user_id: str) -> bool:
    """Checked on the server at every click: IDs first, then the user group."""
    settings = deps.settings
    if user_id in settings.MANAGER_USER_IDS:
        return True
    if settings.MANAGER_USERGROUP:
        return await in_usergroup(deps, settings.MANAGER_USERGROUP, user_id)
    return False


async def is_support(deps: Deps, user_id: str) -> bool:
    """Everyone when no support list is set; managers always."""
    settings = deps.settings
    if not settings.SUPPORT_USER_IDS and not settings.SUPPORT_USERGROUP:
        return True
    if user_id in settings.SUPPORT_USER_IDS or await is_manager(deps, user_id):
        return True
    if settings.SUPPORT_USERGROUP:
        return await in_usergroup(deps, settings.SUPPORT_USERGROUP, user_id)
    return False


OUTSIDER_NOTE = (
    "stripe-ops is for the support team. If you need it, ask an admin to add you "
    "to SUPPORT_USER_IDS or the support user group."
)
UNCHECKED_NOTE = (
    "stripe-ops could not check that you are in the support team (Slack did not "
    "answer in time). Nothing was done; try again in a moment."
)
# Of Slack's 3 s to answer, what the membership check may take.
CHECK_SECONDS = 2.0


def _outsider_answer(
    deps: Deps, body: dict[str, Any], user_id: str | None, note: str
) -> tuple[BoltResponse, Coroutine[Any, Any, Any] | None]:
    """What Slack gets at once, and what is sent after the answer, for someone
    who may not use the bot: the note, in the place the request came from."""
    kind = body.get("type")
    if body.get("command"):
        return BoltResponse(
            status=200, body={"response_type": "ephemeral", "text": note}
        ), None
    if kind == "view_submission":
        view = info_modal("stripe-ops", note)
        return BoltResponse(
            status=200, body={"response_action": "update", "view": view}
        ), None
    if kind == "block_suggestion":
        return BoltResponse(status=200, body={"options": []}), None
    if kind == "event_callback":
        event = body.get("event") or {}
        if (
            user_id is not None
            and event.get("type") == "app_home_opened"
            and event.get("tab", "home") == "home"
        ):
            return BoltResponse(status=200, body=""), deps.slack.views_publish(
                user_id=user_id, view=outsider_home_view(note)
            )
        # Other events (link previews) get no answer at all: no unfurl.
        return BoltResponse(status=200, body=""), None
    if kind == "view_closed":
        return BoltResponse(status=200, body=""), None
    # Buttons, shortcuts: acknowledged, then the note where they clicked.
    return BoltResponse(status=200, body=""), tell_user(deps, body, note)


async def _may_use(deps: Deps, user_id: str) -> bool | None:
    """is_support within CHECK_SECONDS; None when Slack did not answer in time."""
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return await is_support(deps, user_id)
    except TimeoutError:
        log.error("support check for %s timed out", user_id)
        return None


async def _logged(work: Coroutine[Any, Any, Any]) -> None:
    try:
        await work
    except Exception:
        log.exception("could not show the outsider note")


def register(app: AsyncApp, deps: Deps) -> None:
    """Put the support check in front of every listener, before any runs."""
    later_tasks: set[asyncio.Task[Any]] = set()

    async def support_only(
        body: dict[str, Any],
        context: AsyncBoltContext,
        next_: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        """Someone in support goes on to the listeners; anyone else gets a note."""
        user_id = context.user_id
        if user_id is None and body.get("type") == "event_callback":
            # Events no person caused (app_uninstalled, tokens_revoked) show
            # nothing to anyone.
            await next_()
            return None
        allowed = await _may_use(deps, user_id) if user_id is not None else False
        if allowed:
            await next_()
            return None
        note = UNCHECKED_NOTE if allowed is None else OUTSIDER_NOTE
        answer, later = _outsider_answer(deps, body, user_id, note)
        if later is not None:
            task = asyncio.create_task(_logged(later))
            later_tasks.add(task)
            task.add_done_callback(later_tasks.discard)
        return answer

    app.use(support_only)
