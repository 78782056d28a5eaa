"""Webhook intake's group commit: deliveries stored together, each answered
for itself; on PostgreSQL a kept connection that dies is replaced without a
failed delivery."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import col

from bot.deps import Deps
from storage.engine import is_sqlite
from storage.models import StripeEvent
from tests.conftest import _pg_admin
from tests.support import event, signed

Client = TestClient[Any, Any]


async def post(client: Client, evt: dict[str, Any]) -> tuple[int, Any]:
    body, headers = signed(evt)
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    return resp.status, await resp.json()


async def stored_ids(deps: Deps) -> set[str]:
    async with deps.sessions() as session:
        return set((await session.scalars(select(col(StripeEvent.id)))).all())


async def test_deliveries_arriving_together_are_each_answered_for_themselves(
    client: Client, deps: Deps
) -> None:
    first = event("charge.refunded")
    others = [event("charge.refunded") for _ in range(20)]
    answers = await asyncio.gather(
        *(post(client, evt) for evt in [first, *others, first, first])
    )
    assert all(status == 200 for status, _ in answers)
    duplicates = [body["duplicate"] for _, body in answers]
    # Three copies of `first`: one stored, two duplicates; the rest new.
    assert duplicates.count(True) == 2
    assert await stored_ids(deps) == {first["id"], *(e["id"] for e in others)}
    async with deps.sessions() as session:
        count = await session.scalar(select(func.count(col(StripeEvent.id))))
    assert count == 21


async def test_a_dead_database_connection_costs_no_delivery(
    client: Client, deps: Deps
) -> None:
    before = event("charge.refunded")
    assert (await post(client, before))[0] == 200
    if not is_sqlite(deps.engine):
        # A restart of PostgreSQL, as intake's kept connection sees it.
        admin = await _pg_admin()
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                make_url(str(deps.engine.url)).database,
            )
        finally:
            await admin.close()
    after = event("charge.refunded")
    status, body = await post(client, after)
    assert (status, body) == (200, {"received": True, "duplicate": False})
    assert {before["id"], after["id"]} <= await stored_ids(deps)


async def test_a_delivery_the_database_refused_gets_no_200_and_its_retry_does(
    client: Client, deps: Deps
) -> None:
    # The database takes no more events (a full disk, a lost constraint...).
    if is_sqlite(deps.engine):
        refuse = (
            "CREATE TRIGGER refuse BEFORE INSERT ON stripe_event "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        allow = "DROP TRIGGER refuse"
    else:
        refuse = (
            "ALTER TABLE stripe_event ADD CONSTRAINT refuse CHECK (false) NOT VALID"
        )
        allow = "ALTER TABLE stripe_event DROP CONSTRAINT refuse"
    async with deps.engine.begin() as conn:
        await conn.execute(text(refuse))
    evt = event("charge.refunded")
    body, headers = signed(evt)

    resp = await client.post("/stripe/webhook", data=body, headers=headers)

    # Not stored, so not acknowledged: Stripe keeps the event and retries.
    assert resp.status >= 500
    assert evt["id"] not in await stored_ids(deps)

    async with deps.engine.begin() as conn:
        await conn.execute(text(allow))
    status, answer = await post(client, evt)  # Stripe's retry
    assert (status, answer) == (200, {"received": True, "duplicate": False})
    assert evt["id"] in await stored_ids(deps)
