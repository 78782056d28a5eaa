"""Refunding: the Stripe refund of an approved request, at most once.

One claim decides who calls Stripe; every attempt sends the request's
idempotency key with the same parameters; what Stripe holds (found by the
request's key in the refund's metadata) is what is recorded, in
`bot.refunds.outcomes`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe
from stripe.params import RefundCreateParams

from bot.connect import on_account
from bot.deps import Deps
from bot.refund_refusals import DisputedSince, LessLeftNow, PaymentGone, StripeSaidNo
from bot.refunds.outcomes import fail_unrefunded, record_refund, retry_later
from bot.refusals import RefundRefused
from bot.stripe_api import call, describe_error
from bot.stripe_lookup import (
    RefundInfo,
    fetch_payment,
    find_refund_by_metadata,
    refund_from,
)
from storage import refunds as store
from storage.models import RefundRequest

log = logging.getLogger(__name__)

# Metadata on every refund we make: names the request, so an event (or a
# retry after Stripe forgot the idempotency key) finds it.
REQUEST_ID_METADATA = "stripe_ops_request"
REQUEST_KEY_METADATA = "stripe_ops_request_key"

# How long one Stripe attempt holds an approved request before another
# process (or the retry job) may try again with the same key: longer than the
# slowest call the client can make, so one claim is one caller at Stripe.
ATTEMPT_LEASE_SECONDS = 90.0


def refund_params(req: RefundRequest) -> RefundCreateParams:
    """The refund's parameters: the same on every attempt, as the key demands."""
    params: RefundCreateParams = {
        "charge": req.charge_id,
        "amount": req.amount,
        "metadata": {
            REQUEST_ID_METADATA: str(req.id),
            REQUEST_KEY_METADATA: req.idempotency_key,
            "requested_by": req.requested_by,
            "approved_by": req.decided_by or "",
        },
    }
    if (
        req.reason == "duplicate"
        or req.reason == "fraudulent"
        or req.reason == "requested_by_customer"
    ):
        params["reason"] = req.reason
    return params


async def recheck(deps: Deps, req: RefundRequest) -> RefundRefused | None:
    """Why the refund is no longer possible (other refunds or a dispute came
    since the request), or None. Only for an attempt no earlier one preceded:
    after that, money gone from the payment may be our own refund."""
    try:
        payment = await fetch_payment(
            deps, req.charge_id, with_customer=False, account=req.account
        )
    except stripe.StripeError as exc:
        # Stripe checks the same limits when refunding; let it say no there.
        log.warning(
            "re-check of %s before refunding failed: %s",
            req.charge_id,
            describe_error(exc),
        )
        return None
    if payment is None:
        return PaymentGone(req.charge_id)
    if payment.blocking_dispute is not None:
        return DisputedSince(payment.blocking_dispute)
    if req.amount > payment.remaining:
        return LessLeftNow(req, payment.remaining, payment.currency)
    return None


def _transient(exc: stripe.StripeError) -> bool:
    """Did the refund's fate stay unknown (so retry with the key), or did
    Stripe answer no?"""
    if isinstance(exc, stripe.APIConnectionError | stripe.APIError):
        return True
    if isinstance(exc, stripe.RateLimitError):
        return True
    status = exc.http_status or 0
    return status == 409 or status >= 500


def _key_used_before(exc: stripe.StripeError) -> bool:
    """Stripe's idempotency_error: a request with this key came before (other
    parameters, or still in progress), so a refund may exist."""
    error = exc.error
    return isinstance(exc, stripe.IdempotencyError) or (
        error is not None and error.type == "idempotency_error"
    )


@dataclass(frozen=True)
class _NotRefunded:
    """Stripe made no refund for the request and will make none: why."""

    why: RefundRefused
    code: str


class _RefundNotFound(stripe.StripeError):
    """An earlier request with the key exists at Stripe, its refund not found."""


async def _find_ours(deps: Deps, req: RefundRequest) -> RefundInfo | None:
    """The refund Stripe holds for this request: the charge's refunds, by the
    request's key in their metadata (found even after Stripe forgets keys)."""
    return await find_refund_by_metadata(
        deps,
        charge_id=req.charge_id,
        key=REQUEST_KEY_METADATA,
        value=req.idempotency_key,
        account=req.account,
    )


async def _ask_stripe(deps: Deps, req: RefundRequest) -> RefundInfo | _NotRefunded:
    """One attempt: the refund Stripe holds for the request afterwards, or
    why there is none. Raises stripe.StripeError when that stays unknown.

    Never concludes "nothing refunded" on our own reasoning once an earlier
    attempt may have reached Stripe: it looks for the request's refund first.
    """
    earlier = req.stripe_attempts > 1
    if earlier:
        found = await _find_ours(deps, req)
        if found is not None:
            return found
    else:
        problem = await recheck(deps, req)
        if problem is not None:
            return _NotRefunded(problem, "rechecked")
    try:
        created = await call(
            deps.metrics,
            "refunds.create",
            deps.stripe.v1.refunds.create_async(
                refund_params(req),
                on_account(req.account, {"idempotency_key": req.idempotency_key}),
            ),
        )
    except stripe.StripeError as exc:
        if _key_used_before(exc):
            found = await _find_ours(deps, req)
            if found is not None:
                return found
            raise _RefundNotFound(
                "Stripe has an earlier request with this refund's key and no "
                "refund from it was found yet"
            ) from exc
        if _transient(exc):
            raise
        if earlier:
            found = await _find_ours(deps, req)
            if found is not None:
                return found
        code = exc.code or type(exc).__name__
        return _NotRefunded(StripeSaidNo(describe_error(exc)), code)
    return refund_from(created.to_dict())


async def attempt_refund(deps: Deps, req: RefundRequest) -> str | None:
    """Run the attempt this caller claimed (number `req.stripe_attempts`) and
    record its outcome; the request's status afterwards."""
    assert req.id is not None
    try:
        outcome = await _ask_stripe(deps, req)
    except stripe.StripeError as exc:
        return await retry_later(deps, req, exc)
    if isinstance(outcome, _NotRefunded):
        await fail_unrefunded(deps, req, outcome.why, code=outcome.code)
        return await _status(deps, req.id)
    async with deps.sessions() as session, session.begin():
        status = await record_refund(deps, session, req, outcome, now=deps.clock.now())
    deps.wake.outbox.set()
    return status or (await _status(deps, req.id))


async def execute_refund(
    deps: Deps, request_id: int, *, ignore_lease: bool = False
) -> str | None:
    """Make the Stripe refund of an approved request, at most once.

    Safe to call again at any time (start-up, retry job, another instance):
    one claim decides who calls Stripe, every attempt sends the request's
    idempotency key with the same parameters, and only one caller records
    the outcome. Returns the request's status afterwards (None if there is
    no such request).
    """
    async with deps.sessions() as session, session.begin():
        claimed = await store.claim_attempt(
            session,
            request_id=request_id,
            now=deps.clock.now(),
            lease=ATTEMPT_LEASE_SECONDS,
            ignore_lease=ignore_lease,
        )
        req = await store.get_request(session, request_id=request_id)
    if req is None:
        return None
    if not claimed:
        return req.status
    return await attempt_refund(deps, req)


async def _status(deps: Deps, request_id: int) -> str | None:
    async with deps.sessions() as session:
        req = await store.get_request(session, request_id=request_id)
        return req.status if req else None
