"""Who paid: the charge read from Stripe (its customer expanded when the key
may), stored on the dispute so its card names them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import stripe

from bot.connect import on_account
from bot.deps import Deps
from bot.disputes.cards import queue_card_edit
from bot.disputes.state import customer_of, plain
from bot.stripe_api import call
from storage import disputes as store
from storage.models import Dispute

log = logging.getLogger(__name__)

CUSTOMER_BATCH = 20


async def read_charge(
    deps: Deps, charge_id: str, *, account: str | None = None
) -> dict[str, Any]:
    charges = deps.stripe.v1.charges
    options = on_account(account)
    try:
        charge = await call(
            deps.metrics,
            "charges.retrieve",
            charges.retrieve_async(charge_id, {"expand": ["customer"]}, options),
        )
    except stripe.PermissionError:
        # A key without Customers: Read still gets the charge's own details.
        charge = await call(
            deps.metrics,
            "charges.retrieve",
            charges.retrieve_async(charge_id, None, options),
        )
    return plain(charge)


async def record_customer(
    deps: Deps, row: Dispute, charge: Mapping[str, Any]
) -> Dispute:
    """Store who paid, from the charge; the card shows them from now on."""
    customer_id, name, email = customer_of(charge)
    async with deps.sessions() as session, session.begin():
        changed = await store.set_customer(
            session, dispute_id=row.id, customer_id=customer_id, name=name, email=email
        )
        fresh = await store.get(session, dispute_id=row.id)
        assert fresh is not None
        if changed:
            await queue_card_edit(session, deps.settings, fresh, now=deps.clock.now())
    if changed:
        deps.wake.outbox.set()
    return fresh


async def fill_in_customers(deps: Deps, *, limit: int = CUSTOMER_BATCH) -> int:
    """Read the charge of disputes whose events named it only by ID, so their
    cards show who paid; returns how many were read."""
    async with deps.sessions() as session:
        rows = await store.customers_to_check(session, limit=limit)
    for row in rows:
        assert row.charge_id is not None
        try:
            charge = await read_charge(deps, row.charge_id, account=row.account)
        except stripe.InvalidRequestError:
            # Stripe will not give it (e.g. deleted): no point asking again.
            charge = {}
        except stripe.StripeError as exc:
            log.warning(
                "reading charge %s of %s failed: %s",
                row.charge_id,
                row.id,
                type(exc).__name__,
            )
            continue
        await record_customer(deps, row, charge)
    return len(rows)
