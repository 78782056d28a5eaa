"""Reconcile: repair missed dispute events from Stripe's listing, and whether a
first full read has finished (until then "no open dispute" may mean "not read
yet")."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.disputes.events import on_snapshot
from bot.disputes.lookup import with_customer
from bot.disputes.state import plain, snapshot
from bot.stripe_api import call
from storage import sync_state

# Disputes are answered within weeks and decided within about 75 days after
# that; older ones cannot change any more, so reconcile does not page past this.
RECONCILE_LOOKBACK_DAYS = 120
RECONCILE_PAGE_SIZE = 100
# The sync_state row a finished reconcile writes.
SYNC_NAME = "disputes"


async def reconcile(deps: Deps, *, page_size: int = RECONCILE_PAGE_SIZE) -> int:
    """Repair missed events from `GET /v1/disputes`; returns disputes seen.

    The listing is a snapshot taken now: it beats events created before it,
    and an event created after it still wins.
    """
    version = snapshot(deps.clock.now())
    since = version.created - RECONCILE_LOOKBACK_DAYS * 86400
    params: dict[str, Any] = {"limit": page_size, "created": {"gte": since}}

    async def listing(expand: list[str]) -> Any:
        request: Any = {**params, "expand": expand}
        return await call(
            deps.metrics, "disputes.list", deps.stripe.v1.disputes.list_async(request)
        )

    seen = 0
    while True:
        page = await with_customer("data.charge", listing)
        objects = [plain(d) for d in page.data]
        # One short transaction per dispute: no lock across HTTP calls, and
        # never one dispute's row held while waiting for another's, which the
        # event worker may hold in another order (a deadlock on PostgreSQL).
        for obj in objects:
            async with deps.sessions() as session, session.begin():
                await on_snapshot(
                    session, deps.settings, obj, version=version, now=deps.clock.now()
                )
        seen += len(objects)
        deps.wake.outbox.set()
        if not page.has_more or not objects:
            break
        params["starting_after"] = objects[-1]["id"]
    # Only a read that reached the last page counts: until one has, "no open
    # dispute" may just mean "not read yet".
    async with deps.sessions() as session, session.begin():
        await sync_state.mark_finished(session, name=SYNC_NAME, now=deps.clock.now())
    return seen


async def first_sync_done(deps: Deps) -> bool:
    """Whether any instance has read every recent dispute from Stripe yet."""
    async with deps.sessions() as session:
        return await sync_state.finished_at(session, name=SYNC_NAME) is not None
