"""Who may do what: support agents run commands, managers approve refunds."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.deps import Deps

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
