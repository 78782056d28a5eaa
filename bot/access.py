"""Who may do what: support agents run commands, managers approve refunds."""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError

from bot.deps import Deps

log = logging.getLogger(__name__)

_GROUP_TTL_SECONDS = 300.0


async def usergroup_members(deps: Deps, usergroup: str) -> frozenset[str]:
    """Members of a Slack user group, cached briefly; empty if Slack says no."""
    cached = deps.group_cache.get(usergroup)
    if cached is not None and time.monotonic() - cached[0] < _GROUP_TTL_SECONDS:
        return cached[1]
    try:
        resp = await deps.slack.usergroups_users_list(usergroup=usergroup)
    except SlackApiError as exc:
        log.error("cannot read user group %s: %s", usergroup, exc.response.get("error"))
        return frozenset()
    members = frozenset(str(u) for u in resp.get("users") or [])
    deps.group_cache[usergroup] = (time.monotonic(), members)
    return members


async def is_manager(deps: Deps, user_id: str) -> bool:
    """Checked on the server at every click: IDs first, then the user group."""
    settings = deps.settings
    if user_id in settings.MANAGER_USER_IDS:
        return True
    if settings.MANAGER_USERGROUP:
        return user_id in await usergroup_members(deps, settings.MANAGER_USERGROUP)
    return False


async def is_support(deps: Deps, user_id: str) -> bool:
    """Everyone when no support list is set; managers always."""
    settings = deps.settings
    if not settings.SUPPORT_USER_IDS and not settings.SUPPORT_USERGROUP:
        return True
    if user_id in settings.SUPPORT_USER_IDS or await is_manager(deps, user_id):
        return True
    if settings.SUPPORT_USERGROUP:
        return user_id in await usergroup_members(deps, settings.SUPPORT_USERGROUP)
    return False
