"""App Home: requests waiting for a manager, open disputes, the latest alerts."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import disputes as dispute_domain
from bot import refunds
from bot.access import is_manager
from bot.blocks.home import (
    HOME_APPROVE_ACTION,
    MAX_ALERTS,
    MAX_DISPUTES,
    MAX_REQUESTS,
    home_view,
)
from bot.deps import Deps
from handlers.failures import tell_on_failure
from storage import home as store


async def publish_home(deps: Deps, user_id: str) -> None:
    """Render the tab for this user, as things are now."""
    now = deps.clock.now()
    manager = await is_manager(deps, user_id)
    rows, total, _ = await dispute_domain.answerable(deps, limit=MAX_DISPUTES)
    async with deps.sessions() as session:
        requests = (
            await store.waiting_requests(session, now=now, limit=MAX_REQUESTS + 1)
            if manager
            else []
        )
        alerts = await store.latest_alerts(session, limit=MAX_ALERTS)
    view = home_view(
        manager=manager,
        requests=requests,
        disputes=[
            (d, dispute_domain.checklist(d.reason, d.stripe_evidence)) for d in rows
        ],
        disputes_total=total,
        alerts=alerts,
        now=now,
        disputes_synced=await dispute_domain.first_sync_done(deps),
    )
    await deps.slack.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, deps: Deps) -> None:
    """Register the Home tab and its Approve button."""

    async def home_opened(event: dict[str, Any]) -> None:
        """Publish a fresh Home tab whenever someone opens it."""
        if event.get("tab", "home") != "home":
            return
        await publish_home(deps, str(event["user"]))

    app.event("app_home_opened")(home_opened)

    async def ack_at_once(ack: AsyncAck) -> None:
        """Ack the click; the work follows in the lazy listener."""
        await ack()

    @tell_on_failure(deps, "approving a refund request from Home")
    async def approve_from_home(body: dict[str, Any]) -> None:
        """Approve from the Home tab: the same checks and refund as in the channel.
        A refusal reaches the clicker by DM (Home has no response_url)."""
        user_id = str(body["user"]["id"])
        try:
            request_id = int(body["actions"][0]["value"])
        except (KeyError, IndexError, TypeError, ValueError):
            return
        try:
            await refunds.approve(deps, request_id=request_id, user_id=user_id)
        finally:
            await publish_home(deps, user_id)

    app.action(HOME_APPROVE_ACTION)(ack=ack_at_once, lazy=[approve_from_home])
