"""Early fraud warnings become refund requests.

A warning's alert is posted from the event, without an offer: whether the
charge can still be refunded is Stripe's to say, and Stripe is never asked
inside the event's transaction. `check_warnings` (a job) reads the charge
and edits the alert: a *Refund…* button while the warning is actionable (not
disputed, not fully refunded), else a line saying why not. A dispute or a
full refund seen in a later event takes the button away at once; any other
refund on the charge sends the warning back to be checked.

The button starts the usual request (`bot.refunds.request_refund`: all that
is left, reason `fraudulent`, a manager approves), which checks the payment
with Stripe again, as approval does before the refund is made. A Connect
warning's charge is read, requested and refunded in its connected account
(Stripe-Account on every call).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks.fraud_warnings import with_offer
from bot.blocks.modes import mode_mismatch
from bot.deps import Deps
from bot.refund_refusals import (
    Disputed,
    FullyRefunded,
    NoSuchPayment,
    NotSucceeded,
    WarningInOtherMode,
    WarningNotOffered,
)
from bot.refunds.asking import RefundArgs, request_refund
from bot.stripe_api import describe_error
from bot.stripe_lookup import Payment, fetch_payment
from bot.stripe_shapes import as_str, expandable_id
from storage import fraud_warnings as store
from storage import outbox
from storage.fraud_warnings import ACTIONABLE, CHECKING, CLOSED
from storage.models import FraudWarning

log = logging.getLogger(__name__)

CHECK_BATCH = 20
# A charge Stripe would not give us is asked for again after this, not at
# every run of the job.
RETRY_SECONDS = 60.0


async def note_warning(
    session: AsyncSession,
    obj: dict[str, Any],
    *,
    event_id: str,
    alert_key: str,
    livemode: bool,
    account: str | None,
    key_live: bool | None,
    now: float,
) -> bool:
    """Remember a new warning's alert, to be checked with Stripe; one in the
    other mode than the key is closed at once (its alert says so already)."""
    warning_id = as_str(obj.get("id"))
    charge_id = expandable_id(obj.get("charge"))
    if not warning_id or not charge_id:
        return False  # nothing to refund from, or nothing to name it by
    return await store.record(
        session,
        warning_id=warning_id,
        charge_id=charge_id,
        payment_intent_id=expandable_id(obj.get("payment_intent")),
        livemode=livemode,
        account=account,
        # Stripe's own flag; absent in old versions, where the charge decides.
        actionable=obj.get("actionable") is not False,
        alert_key=alert_key,
        event_id=event_id,
        now=now,
        # The key can neither read nor refund the charge: nothing to check, and
        # the alert, like every mismatched one, already says why it has no button.
        closed_why="other_mode" if mode_mismatch(livemode, key_live=key_live) else None,
    )


async def queue_alert_edit(
    session: AsyncSession, row: FraudWarning, *, closed_why: str | None, now: float
) -> bool:
    """Edit the warning's alert: the offer, or why there is none."""
    posted = await store.posted_alert(session, key=row.alert_key)
    if posted is None:
        return False  # never posted (muted): nothing to edit
    await outbox.enqueue_update(
        session,
        # Each edit is a new version; edits go out in the order queued.
        key=f"{row.alert_key}:efw:{uuid.uuid4().hex}",
        target_key=row.alert_key,
        text=posted.text,
        blocks=with_offer(
            posted.blocks,
            warning_id=row.id,
            charge_id=row.charge_id,
            closed_why=closed_why,
        ),
        now=now,
    )
    return True


async def close_on_charges(
    session: AsyncSession, closes: list[tuple[str, str]], now: float
) -> None:
    """Charges disputed or refunded in full, `(charge_id, why)` in the order
    seen: their warnings' offers go, each alert edited to say why (the first
    reason seen for a charge). One read for all the charges."""
    charge_ids = list(dict.fromkeys(charge_id for charge_id, _why in closes))
    open_rows = await store.open_on_charges(session, charge_ids=charge_ids)
    if not open_rows:
        return
    why_for: dict[str, str] = {}
    for charge_id, why in closes:
        why_for.setdefault(charge_id, why)
    for row in open_rows:
        why = why_for[row.charge_id]
        if await store.move(
            session,
            warning_id=row.id,
            from_states=(CHECKING, ACTIONABLE),
            to_state=CLOSED,
            why=why,
            now=now,
        ):
            await queue_alert_edit(session, row, closed_why=why, now=now)


async def recheck_on_charges(
    session: AsyncSession, charge_ids: list[str], now: float
) -> None:
    """Refunds on the charges may have taken what was left: look again."""
    await store.move_on_charges(
        session,
        charge_ids=charge_ids,
        from_state=ACTIONABLE,
        to_state=CHECKING,
        now=now,
    )


def closed_why(payment: Payment | None, *, actionable: bool) -> str | None:
    """Why the warning offers no refund (CLOSED_WORDS' keys), or None."""
    if payment is None:
        return "gone"
    if payment.disputed:
        return "disputed"
    if not payment.succeeded or not payment.captured:
        return "not_succeeded"
    if payment.remaining <= 0:
        return "refunded"
    if not actionable:
        return "not_actionable"
    return None


async def _verdict(deps: Deps, row: FraudWarning) -> str | None:
    """Why the warning offers no refund, from its charge in Stripe; None: it
    does. Raises stripe.StripeError when Stripe could not say."""
    if mode_mismatch(row.livemode, key_live=deps.settings.stripe_live):
        return "other_mode"  # noted under another key: this one cannot look
    # A connected account's charge is found only with its Stripe-Account.
    payment = await fetch_payment(
        deps, row.charge_id, with_customer=False, account=row.account
    )
    return closed_why(payment, actionable=row.actionable)


async def _check(deps: Deps, row: FraudWarning) -> bool:
    """Read the warning's charge and show the verdict on its alert."""
    try:
        why = await _verdict(deps, row)
    except stripe.StripeError as exc:
        log.warning(
            "checking charge %s of %s failed: %s",
            row.charge_id,
            row.id,
            describe_error(exc),
        )
        async with deps.sessions() as session, session.begin():
            # Still to check, but not before RETRY_SECONDS: `to_check` takes
            # only warnings whose updated_at has come.
            await store.move(
                session,
                warning_id=row.id,
                from_states=(CHECKING,),
                to_state=CHECKING,
                why=None,
                now=deps.clock.now() + RETRY_SECONDS,
            )
        return False
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        # Only from `checking`: a dispute event that closed it meanwhile wins.
        moved = await store.move(
            session,
            warning_id=row.id,
            from_states=(CHECKING,),
            to_state=CLOSED if why else ACTIONABLE,
            why=why,
            now=now,
        )
        if moved:
            await queue_alert_edit(session, row, closed_why=why, now=now)
    return moved


async def check_warnings(deps: Deps, *, limit: int = CHECK_BATCH) -> int:
    """Check warnings waiting for a look at their charge; how many were settled."""
    async with deps.sessions() as session:
        rows = await store.to_check(session, limit=limit, before=deps.clock.now())
    settled = 0
    for row in rows:
        settled += await _check(deps, row)
    if settled:
        deps.wake.outbox.set()
    return settled


async def request_from_warning(
    deps: Deps, *, user_id: str, channel_id: str | None, warning_id: str
) -> str:
    """*Refund…* on a warning: the usual request for all that is left, as
    fraudulent. The answer for the clicker; raises RefundRefused."""
    async with deps.sessions() as session:
        row = await store.get(session, warning_id=warning_id)
    if row is None:
        raise WarningNotOffered(warning_id, None)
    if mode_mismatch(row.livemode, key_live=deps.settings.stripe_live):
        raise WarningInOtherMode(warning_id, row.charge_id, row.livemode, row.account)
    if row.state == CLOSED:
        raise WarningNotOffered(warning_id, row.closed_why)
    args = RefundArgs(
        payment_id=row.charge_id,
        reason="fraudulent",
        note=f"Early fraud warning {warning_id}",
        # The request, its approval and its refund stay in the charge's account.
        account=row.account,
    )
    try:
        return await request_refund(
            deps, user_id=user_id, channel_id=channel_id, args=args
        )
    except (Disputed, FullyRefunded, NotSucceeded, NoSuchPayment):
        # Stripe says the offer is stale: check again, so the button goes.
        async with deps.sessions() as session, session.begin():
            await store.move(
                session,
                warning_id=warning_id,
                from_states=(ACTIONABLE,),
                to_state=CHECKING,
                why=None,
                now=deps.clock.now(),
            )
        raise
