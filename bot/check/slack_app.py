"""Slack: the token, its scopes, the channels, and who may approve."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.check.finding import Finding
from bot.config import CHANNEL_SETTINGS, Settings
from bot.deps import Deps

# Every bot scope manifest.yml asks for (tests/test_manifest.py keeps the two
# the same): a token without one of them breaks a feature.
REQUIRED_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "usergroups:read",
    "users:read",
    "files:read",
    "files:write",
    "links:read",
    "links:write",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "im:history",
)


async def check_slack(deps: Deps) -> list[Finding]:
    settings = deps.settings
    try:
        resp = await deps.slack.auth_test()
    except SlackApiError as exc:
        return [
            Finding(
                False,
                f"Slack: auth.test failed ({exc.response.get('error')})",
                "set SLACK_BOT_TOKEN to the app's current Bot User OAuth Token "
                "(OAuth & Permissions)",
            )
        ]
    except Exception as exc:
        return [
            Finding(
                False,
                f"Slack: cannot reach {settings.SLACK_API_URL} ({type(exc).__name__})",
                "check SLACK_API_URL and the network",
            )
        ]
    findings = [
        Finding(True, f"Slack: signed in as @{resp.get('user')} in {resp.get('team')}")
    ]
    header = resp.headers.get("x-oauth-scopes") or resp.headers.get("X-OAuth-Scopes")
    granted = {s.strip() for s in str(header or "").split(",") if s.strip()}
    missing = [s for s in REQUIRED_SCOPES if s not in granted]
    if missing:
        findings.append(
            Finding(
                False,
                f"Slack: the token lacks scope{'s' if len(missing) > 1 else ''} "
                + ", ".join(missing),
                "add them under OAuth & Permissions (or recreate the app from "
                "manifest.yml), reinstall the app, and update SLACK_BOT_TOKEN",
            )
        )
    else:
        findings.append(Finding(True, "Slack: the token has every scope it needs"))
    findings += await _check_channels(
        deps, can_post_public="chat:write.public" in granted
    )
    findings += await _check_people(deps)
    return findings


def _channels(settings: Settings) -> dict[str, list[str]]:
    """Channel ID -> the settings that name it."""
    out: dict[str, list[str]] = {}
    for name in CHANNEL_SETTINGS:
        channel = getattr(settings, name)
        if channel:
            out.setdefault(channel, []).append(name)
    return out


async def _check_channels(deps: Deps, *, can_post_public: bool) -> list[Finding]:
    findings = []
    for channel, names in _channels(deps.settings).items():
        label = f"Slack: channel {channel} ({', '.join(names)})"
        try:
            info = (await deps.slack.conversations_info(channel=channel))["channel"]
        except SlackApiError as exc:
            error = exc.response.get("error")
            findings.append(
                Finding(
                    False,
                    f"{label}: {error}",
                    "use the channel's ID (channel details → About), and invite "
                    "the bot to it if it is private",
                )
            )
            continue
        if info.get("is_archived"):
            findings.append(
                Finding(False, f"{label}: archived", "unarchive it or pick another")
            )
        elif info.get("is_member") or (not info.get("is_private") and can_post_public):
            findings.append(Finding(True, f"{label}: the bot can post there"))
        else:
            findings.append(
                Finding(
                    False,
                    f"{label}: the bot is not a member",
                    "invite the bot: /invite @stripe-ops in that channel",
                )
            )
    return findings


async def _check_people(deps: Deps) -> list[Finding]:
    settings = deps.settings
    findings = []
    managers = len(settings.MANAGER_USER_IDS)
    for setting in ("MANAGER_USERGROUP", "SUPPORT_USERGROUP"):
        group = getattr(settings, setting)
        if not group:
            continue
        try:
            resp = await deps.slack.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            findings.append(
                Finding(
                    False,
                    f"Slack: {setting} {group} does not resolve "
                    f"({exc.response.get('error')})",
                    "use the user group's ID (S…) and check the usergroups:read scope",
                )
            )
            continue
        members = list(resp.get("users") or [])
        if setting == "MANAGER_USERGROUP":
            managers += len(members)
        findings.append(
            Finding(True, f"Slack: {setting} {group} has {len(members)} members")
        )
    if managers == 0:
        findings.append(
            Finding(
                False,
                "managers: nobody can approve refunds",
                "set MANAGER_USER_IDS or MANAGER_USERGROUP",
            )
        )
    else:
        findings.append(Finding(True, f"managers: {managers} can approve refunds"))
    return findings
