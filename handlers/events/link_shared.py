"""Link previews: Stripe Dashboard links pasted in a channel unfurl.

Only for people who may use the bot: the one support check (`bot.access`)
stands in front of this listener, and answers anyone else with nothing at
all. A preview is seen by everyone in the channel, like the link itself, so
none is made in channels shared with other organisations (Slack Connect).
Acked at once; Stripe is read in the lazy listener.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot import link_previews
from bot.blocks.unfurls import preview_unfurl
from bot.deps import Deps

log = logging.getLogger(__name__)


def dashboard_links(event: dict[str, Any]) -> list[link_previews.DashboardLink]:
    """The event's Dashboard links to objects, each once, at most MAX_LINKS."""
    found: list[link_previews.DashboardLink] = []
    seen: set[str] = set()
    for shared in event.get("links") or []:
        url = shared.get("url") if isinstance(shared, dict) else None
        if not isinstance(url, str) or url in seen:
            continue
        link = link_previews.parse_link(url)
        if link is not None:
            seen.add(url)
            found.append(link)
    return found[: link_previews.MAX_LINKS]


@dataclass(frozen=True)
class Target:
    """Where an unfurl goes: by unfurl_id and source, or channel and ts."""

    unfurl_id: str | None = None
    source: str | None = None
    channel: str | None = None
    ts: str | None = None


def _target(event: dict[str, Any]) -> Target | None:
    """The unfurl_id and source Slack gave (a message still being written has
    no ts yet), else the message's channel and ts."""
    unfurl_id, source = event.get("unfurl_id"), event.get("source")
    if isinstance(unfurl_id, str) and isinstance(source, str):
        return Target(unfurl_id=unfurl_id, source=source)
    channel, ts = event.get("channel"), event.get("message_ts")
    if isinstance(channel, str) and isinstance(ts, str):
        return Target(channel=channel, ts=ts)
    return None


def register(app: AsyncApp, deps: Deps) -> None:
    """Register the link_shared listener."""

    async def ack_at_once(ack: AsyncAck) -> None:
        """Ack the event; the lookups follow in the lazy listener."""
        await ack()

    async def unfurl_links(body: dict[str, Any], event: dict[str, Any]) -> None:
        """Read each linked object from Stripe and unfurl the ones found."""
        if body.get("is_ext_shared_channel") is True:
            # A preview is seen by the whole channel, and a Slack Connect
            # channel holds people of other organisations.
            return
        target = _target(event)
        links = dashboard_links(event)
        if target is None or not links:
            return
        unfurls: dict[str, Any] = {}
        for link in links:
            preview = await link_previews.read_preview(deps, link)
            if preview is not None:
                unfurls[link.url] = preview_unfurl(preview, now=deps.clock.now())
        if not unfurls:
            return  # nothing Stripe knows: Slack shows the links as they are
        try:
            await deps.slack.chat_unfurl(
                unfurls=unfurls,
                unfurl_id=target.unfurl_id,
                source=target.source,
                channel=target.channel,
                ts=target.ts,
            )
        except SlackApiError as exc:
            # Nobody to tell: a missing preview is what the person sees.
            log.warning("chat.unfurl failed: %s", exc.response.get("error"))

    app.event("link_shared")(ack=ack_at_once, lazy=[unfurl_links])
