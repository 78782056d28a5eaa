"""Reading disputes: from the database, and from Stripe by dispute, charge or
PaymentIntent ID (what Stripe returns is stored, and a new one gets its card)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import stripe

from bot.connect import on_account, read_name
from bot.deps import Deps
from bot.disputes.events import on_snapshot
from bot.disputes.state import plain, snapshot
from bot.stripe_api import call
from storage import disputes as store
from storage.dispute_status import UNDER_REVIEW
from storage.models import Dispute

T = TypeVar("T")


async def load(deps: Deps, dispute_id: str) -> Dispute | None:
    async with deps.sessions() as session:
        return await store.get(session, dispute_id=dispute_id)


async def with_customer(expand: str, request: Callable[[list[str]], Awaitable[T]]) -> T:
    """Ask with the charge's customer expanded (who paid, for the card); a key
    without Customers: Read still gets the charge."""
    try:
        return await request([f"{expand}.customer"])
    except stripe.PermissionError:
        return await request([expand])


async def lookup(
    deps: Deps, object_id: str, *, account: str | None = None
) -> list[Dispute]:
    """Disputes for a dp_, ch_ or pi_ ID, read from Stripe (in `account`, for
    Connect) and stored."""
    client, metrics = deps.stripe.v1.disputes, deps.metrics
    options = on_account(account)
    if object_id.startswith(("dp_", "du_")):

        async def retrieve(expand: list[str]) -> list[Any]:
            params: Any = {"expand": expand}
            found = client.retrieve_async(object_id, params, options)
            return [await call(metrics, "disputes.retrieve", found)]

        found = await with_customer("charge", retrieve)
    else:
        key = "charge" if object_id.startswith("ch_") else "payment_intent"

        async def listing(expand: list[str]) -> list[Any]:
            params: Any = {key: object_id, "limit": 10, "expand": expand}
            page = await call(
                metrics, "disputes.list", client.list_async(params, options)
            )
            return list(page.data)

        found = await with_customer("data.charge", listing)
    objects = [plain(d) for d in found]
    name = await read_name(deps, account) if account is not None else None
    rows: list[Dispute] = []
    # One dispute per transaction, as in reconcile: never one row held while
    # waiting for another's.
    for obj in objects:
        async with deps.sessions() as session, session.begin():
            now = deps.clock.now()
            applied = await on_snapshot(
                session,
                deps.settings,
                obj,
                version=snapshot(now),
                now=now,
                account=account,
                account_name=name,
            )
            rows.append(applied.row)
    deps.wake.outbox.set()
    return rows


async def answerable(deps: Deps, *, limit: int) -> tuple[list[Dispute], int, int]:
    """(soonest-due disputes waiting for an answer, how many, how many in review)."""
    async with deps.sessions() as session:
        rows, total = await store.answerable(session, limit=limit)
        in_review = await store.count_in(session, statuses=UNDER_REVIEW)
    return rows, total, in_review
