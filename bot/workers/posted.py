"""Finding a post whose answer we never saw, by the outbox keys it carries."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from storage.models import OutboxMessage

log = logging.getLogger(__name__)

# Every post carries its outbox key(s) in Slack message metadata, so that a
# post whose answer we never saw can be found instead of sent again.
OUTBOX_EVENT_TYPE = "stripe_ops_outbox"
HISTORY_PAGE_SIZE = 200
# How far back a lost answer is looked for: the channel's latest 1,000
# messages (an earlier attempt is at most a lease or a retry wait ago).
HISTORY_PAGES = 5
# Errors that say the conversation cannot be read by this app (as opposed to
# Slack being down, which is retried).
_UNREADABLE = frozenset(
    {
        "missing_scope",
        "not_in_channel",
        "channel_not_found",
        "thread_not_found",
        "access_denied",
        "not_allowed_token_type",
        "team_access_not_granted",
    }
)


def outbox_metadata(rows: list[OutboxMessage]) -> dict[str, object]:
    """Slack message metadata naming every outbox row the post carries."""
    return {
        "event_type": OUTBOX_EVENT_TYPE,
        "event_payload": {"keys": "\n".join(r.key for r in rows)},
    }


def _outbox_keys(message: dict[str, object]) -> set[str]:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict):
        return set()
    if metadata.get("event_type") != OUTBOX_EVENT_TYPE:
        return set()
    payload = metadata.get("event_payload")
    keys = payload.get("keys") if isinstance(payload, dict) else None
    return set(keys.split("\n")) if isinstance(keys, str) else set()


async def find_posted(
    slack: AsyncWebClient, rows: list[OutboxMessage], parent_ts: str | None
) -> dict[str, str]:
    """key -> ts of those `rows` Slack already shows (a post tagged with the
    key in its metadata), from the channel's latest messages or the
    thread. Empty when the conversation cannot be read (a missing
    `*:history` scope): then sending again is the only way not to lose
    the message, and a repeat is possible."""
    wanted = {r.key for r in rows}
    found: dict[str, str] = {}
    channel = rows[0].channel
    try:
        if channel[:1] in ("U", "W"):
            # A DM queued under the user's ID; history wants the D… ID.
            opened = await slack.conversations_open(users=channel)
            channel = str(opened["channel"]["id"])
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            if parent_ts is not None:
                resp = await slack.conversations_replies(
                    channel=channel,
                    ts=parent_ts,
                    include_all_metadata=True,
                    limit=HISTORY_PAGE_SIZE,
                    cursor=cursor,
                )
            else:
                resp = await slack.conversations_history(
                    channel=channel,
                    include_all_metadata=True,
                    limit=HISTORY_PAGE_SIZE,
                    cursor=cursor,
                )
            for message in resp.get("messages") or []:
                for key in _outbox_keys(message) & wanted:
                    found.setdefault(key, str(message["ts"]))
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if found.keys() >= wanted or not cursor:
                break
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error not in _UNREADABLE:
            raise
        log.warning(
            "cannot read %s to look for %s (%s); sending it again, "
            "which may show it twice",
            channel,
            rows[0].key,
            error,
        )
        return {}
    return found
