"""Refunds, from an agent's request to Stripe's refund: the domain flow.

request -> (a manager) approve | deny -> the Stripe refund -> its later events;
a pending request expires; an approved one whose Stripe call may have gone out
is finished with the same idempotency key after a crash or a network error.

Slack is only ever reached through the outbox (rows in the same transaction as
the change), and Stripe never inside a database transaction.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import stripe
from sqlalchemy.ext.asyncio import AsyncSession
from stripe.params import RefundCreateParams

from bot.access import is_manager
from bot.backoff import backoff
from bot.blocks import escape
from bot.blocks.refunds import (
    STRIPE_REASONS,
    failure_text,
    outcome_dm,
    refund_event_reply,
    reminder,
    request_message,
    request_sent,
    user,
)
from bot.deps import Deps
from bot.money import (
    AmountError,
    check_refundable_units,
    currency_code,
    example_amount,
    exponent,
    format_amount,
    looks_like_amount,
    parse_refund_amount,
)
from bot.stripe_api import call, describe_error
from bot.stripe_lookup import (
    Payment,
    RefundInfo,
    fetch_payment,
    find_refund_by_metadata,
    refund_from,
)
from storage import audit, outbox
from storage import refunds as store
from storage.engine import is_sqlite
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
RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 1800.0

USAGE = (
    "Write it as `/stripe refund &lt;pi_… | ch_…&gt; [amount] [reason]`, e.g. "
    "`/stripe refund pi_3Abc 12.50 requested_by_customer`. Leave out the amount "
    "to refund all that is left; the amount is in the payment's currency (`12.50` "
    "USD, `500` JPY, `1.250` KWD; `12.50 EUR` when the payment is in euros), with "
    "a point for decimals and no thousands comma. The reason is "
    "`requested_by_customer`, `duplicate` or `fraudulent`; other words are kept as "
    "a note for the approver."
)

_PAYMENT_ID = re.compile(r"(?:pi|ch)_[A-Za-z0-9]+")
_NOTE_MAX = 500
_RANK = {"pending": 0, "requires_action": 1}
_STRIPE_REASON: dict[
    str, Literal["duplicate", "fraudulent", "requested_by_customer"]
] = {
    "duplicate": "duplicate",
    "fraudulent": "fraudulent",
    "requested_by_customer": "requested_by_customer",
}


class Refused(Exception):
    """A refund we will not ask for or make; str() says why and what to do."""


# Where an agent put something the amount should have been: refused with
# the right form, because reading it as "no amount" would refund everything.
Misplaced = Literal["currency_first", "amount_after_reason"]


@dataclass(frozen=True)
class RefundArgs:
    payment_id: str
    amount_text: str | None = None
    reason: str | None = None
    note: str | None = None
    # A currency code typed after the amount (`12.50 EUR`); must be the payment's.
    currency: str | None = None
    misplaced: Misplaced | None = None


def split_reason(text: str | None) -> tuple[str | None, str | None]:
    """(Stripe's reason, note): a leading reason word is Stripe's, the rest a note."""
    words = (text or "").split()
    if not words:
        return None, None
    first = words[0].lower().replace("-", "_")
    if first in STRIPE_REASONS:
        rest = " ".join(words[1:])
        return first, rest[:_NOTE_MAX] or None
    return None, " ".join(words)[:_NOTE_MAX]


def parse_refund_args(text: str) -> RefundArgs:
    """`<pi_|ch_> [amount [currency]] [reason or note…]`, or Refused with how
    to write it. Whether the amount is well formed is checked against the
    payment's currency, in `check_refund`."""
    words = text.split()
    if not words:
        raise Refused(f"Which payment? {USAGE}")
    payment_id = words[0]
    if not _PAYMENT_ID.fullmatch(payment_id):
        raise Refused(
            f"`{escape(payment_id)}` is not a PaymentIntent (`pi_…`) or charge "
            f"(`ch_…`) ID. {USAGE}"
        )
    rest = words[1:]
    amount_text = currency = None
    misplaced: Misplaced | None = None
    if rest and currency_code(rest[0]) and not looks_like_amount(rest[0]):
        # `EUR 12.50`: the code where the amount belongs.
        currency, rest = rest[0], rest[1:]
        misplaced = "currency_first"
        if rest and looks_like_amount(rest[0]):
            amount_text, rest = rest[0], rest[1:]
    elif rest and looks_like_amount(rest[0]):
        amount_text, rest = rest[0], rest[1:]
        if rest and currency_code(rest[0]):
            currency, rest = rest[0], rest[1:]
    reason, note = split_reason(" ".join(rest))
    if (
        amount_text is None
        and misplaced is None
        and reason is not None
        and note is not None
        and looks_like_amount(note.split()[0])
    ):
        # `duplicate 12.50`: an amount that would otherwise become the note.
        misplaced = "amount_after_reason"
    return RefundArgs(payment_id, amount_text, reason, note, currency, misplaced)


def _amount_form(args: RefundArgs, currency: str) -> str:
    """The command as it should be typed, with an example amount."""
    return f"/stripe refund {escape(args.payment_id)} {example_amount(currency)}"


def check_refund(payment: Payment | None, args: RefundArgs) -> int:
    """The amount to refund in minor units, or Refused before anything is asked."""
    pid = escape(args.payment_id)
    if payment is None:
        raise Refused(
            f"Stripe has no payment `{pid}` (with this bot's API key: a test-mode "
            "key cannot see live payments). Check the ID and try again."
        )
    if not payment.succeeded or not payment.captured:
        raise Refused(
            f"Payment `{pid}` is *{escape(payment.status.replace('_', ' '))}*, not "
            "succeeded: only a succeeded payment can be refunded."
        )
    dispute = payment.blocking_dispute
    if dispute is not None:
        raise Refused(
            f"Payment `{pid}` is disputed (`{escape(dispute.id)}`, "
            f"{escape(dispute.status.replace('_', ' '))}): Stripe does not refund a "
            "disputed payment. Answer the dispute instead with "
            f"`/stripe dispute {escape(dispute.id)}`."
        )
    currency = payment.currency
    code = currency.upper()
    form = _amount_form(args, currency)
    left = payment.remaining
    if left <= 0:
        raise Refused(f"Payment `{pid}` has been fully refunded already.")
    if args.currency is not None and args.currency.lower() != currency.lower():
        raise Refused(
            f"Payment `{pid}` is in {code}, not {escape(args.currency.upper())}: "
            f"a refund is in the payment's currency. Write it like `{form}`. "
            "Nothing was requested."
        )
    if args.misplaced == "currency_first":
        raise Refused(
            f"Put the amount first, in {code}: `{form}` (or `{form} {code}`). "
            "Nothing was requested."
        )
    if args.misplaced == "amount_after_reason":
        raise Refused(
            "Write the amount right after the payment ID, then the reason: "
            f"`{form} {escape(args.reason or '')}`. Nothing was requested."
        )
    if args.amount_text is None:
        try:
            check_refundable_units(left, currency)
        except AmountError as exc:
            whole = left // 10 ** exponent(currency)
            raise Refused(
                f"{escape(str(exc))} {escape(format_amount(left, currency))} is "
                f"left on `{pid}`, so name a whole amount: "
                f"`/stripe refund {pid} {whole}`. Nothing was requested."
            ) from None
        return left
    try:
        amount = parse_refund_amount(args.amount_text, currency)
    except AmountError as exc:
        raise Refused(
            f"{escape(str(exc))} Write it like `{form}`. Nothing was requested."
        ) from None
    if amount > left:
        raise Refused(
            f"{escape(format_amount(amount, currency))} is more than what is left to "
            f"refund on `{pid}`: {escape(format_amount(left, currency))} of "
            f"{escape(format_amount(payment.amount, currency))} "
            f"({escape(format_amount(payment.amount_refunded, currency))} refunded "
            "already)."
        )
    return amount


def _subject(request_id: int | None) -> str:
    return f"refund_request:{request_id}"


async def _message_channel(session: AsyncSession, req: RefundRequest) -> str | None:
    assert req.message_key is not None
    return await store.message_channel(session, key=req.message_key)


async def _show(
    session: AsyncSession,
    req: RefundRequest,
    *,
    version: str,
    now: float,
    dm: bool = False,
) -> None:
    """Edit the approval message to the request's state; DM the requester."""
    assert req.message_key is not None
    text, blocks = request_message(req)
    await outbox.enqueue_update(
        session,
        key=f"{req.message_key}:{version}",
        target_key=req.message_key,
        text=text,
        blocks=blocks,
        now=now,
    )
    if dm:
        await outbox.enqueue(
            session,
            key=f"{req.message_key}:dm:{version}",
            channel=req.requested_by,
            text=outcome_dm(req),
            now=now,
        )


async def _fresh(session: AsyncSession, request_id: int) -> RefundRequest:
    req = await store.get_request(session, request_id=request_id)
    assert req is not None
    return req


# -- asking ---------------------------------------------------------------------


async def request_refund(
    deps: Deps, *, user_id: str, channel_id: str | None, args: RefundArgs
) -> str:
    """Check the payment in Stripe, then post the approval request; the answer
    for the requester says where it went. Raises Refused or stripe.StripeError."""
    payment = await fetch_payment(deps, args.payment_id)
    amount = check_refund(payment, args)
    assert payment is not None
    assert payment.charge_id is not None
    settings = deps.settings
    async with deps.sessions() as session, session.begin():
        # One request on a charge at a time from here to the commit, or two
        # at once would each miss the other in the sum below.
        await store.lock_charge(session, charge_id=payment.charge_id)
        now = deps.clock.now()
        waiting, ids = await store.open_amount_on_charge(
            session, charge_id=payment.charge_id
        )
        if waiting and waiting + amount > payment.remaining:
            numbers = ", ".join(f"#{i}" for i in ids)
            raise Refused(
                f"Refund requests {numbers} for "
                f"{escape(format_amount(waiting, payment.currency))} are already "
                f"waiting on `{escape(args.payment_id)}`; with this one they would "
                "refund more than the "
                f"{escape(format_amount(payment.remaining, payment.currency))} left."
            )
        req = await store.create_request(
            session,
            new=store.NewRefundRequest(
                payment_id=args.payment_id,
                charge_id=payment.charge_id,
                payment_intent_id=payment.payment_intent_id,
                customer_id=payment.customer_id,
                customer_label=payment.customer_label,
                amount=amount,
                currency=payment.currency,
                payment_amount=payment.amount,
                reason=args.reason,
                note=args.note,
                livemode=payment.livemode,
                requested_by=user_id,
                requested_in=channel_id,
                # Random, not the row id: a database restored or rebuilt against the
                # same Stripe account must never replay another request's refund.
                idempotency_key=f"stripe-ops-refund-{uuid.uuid4().hex}",
            ),
            now=now,
            ttl_seconds=settings.REFUND_APPROVAL_TTL_HOURS * 3600.0,
        )
        assert req.message_key is not None
        text, blocks = request_message(req)
        await outbox.enqueue(
            session,
            key=req.message_key,
            channel=settings.approvals_channel,
            text=text,
            blocks=blocks,
            now=now,
        )
        await audit.record(
            session,
            actor=user_id,
            action="refund.requested",
            subject=_subject(req.id),
            now=now,
            amount=amount,
            currency=payment.currency,
            details={
                "payment": args.payment_id,
                "charge": payment.charge_id,
                "customer": payment.customer_id,
                "reason": args.reason,
                "note": args.note,
                "remaining": payment.remaining,
            },
        )
    deps.wake.outbox.set()
    deps.metrics.refunds.labels("requested").inc()
    return request_sent(req, settings.approvals_channel)


# -- deciding -------------------------------------------------------------------


def _already(req: RefundRequest, now: float) -> str:
    by = user(req.decided_by)
    if req.status in store.APPROVED_STATUSES:
        return f"Refund request #{req.id} was already approved by {by}."
    if req.status == store.DENIED:
        return f"Refund request #{req.id} was already denied by {by}."
    if req.status == store.EXPIRED or req.expires_at <= now:
        return (
            f"Refund request #{req.id} has expired; nothing was refunded. The agent "
            "can ask again with `/stripe refund`."
        )
    return f"Refund request #{req.id} is {escape(req.status)}."


async def _audit(
    session: AsyncSession,
    req: RefundRequest,
    *,
    actor: str,
    action: str,
    now: float,
    details: dict[str, Any],
) -> None:
    """An audit-log entry about the request, with its amount."""
    await audit.record(
        session,
        actor=actor,
        action=action,
        subject=_subject(req.id),
        now=now,
        amount=req.amount,
        currency=req.currency,
        details=details,
    )


async def _refused(
    session: AsyncSession,
    req: RefundRequest,
    *,
    user_id: str,
    what: str,
    manager: bool,
    now: float,
) -> str | None:
    """Why this user may not decide (audited), or None when they may.

    `manager` is found out before the transaction: it may ask Slack, and no
    network call may hold a transaction (on SQLite, the one writer) open.
    """
    if not manager:
        why, message = (
            "not_manager",
            f"Only managers can {what} refunds (MANAGER_USER_IDS or the "
            "MANAGER_USERGROUP). Nothing was changed.",
        )
    elif what == "approve" and user_id == req.requested_by:
        why, message = (
            "requester",
            "You asked for this refund, so another manager has to approve it. "
            "Nothing was changed.",
        )
    else:
        return None
    await _audit(
        session,
        req,
        actor=user_id,
        action=f"refund.{what}_refused",
        now=now,
        details={"why": why, "status": req.status},
    )
    return message


async def _decide(
    deps: Deps,
    *,
    request_id: int,
    user_id: str,
    what: Literal["approve", "deny"],
    transition: Callable[[AsyncSession, float], Awaitable[bool]],
    details: Callable[[RefundRequest], dict[str, Any]],
    dm: bool = False,
) -> RefundRequest | str:
    """A manager's decision, in one transaction: refuse it (audited), or make
    it by the request's conditional update, audit it and edit the request's
    message. The decided request, or a message for the clicker alone."""
    manager = await is_manager(deps, user_id)
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        req = await store.get_request(session, request_id=request_id)
        if req is None:
            return "That refund request does not exist (any more)."
        refusal = await _refused(
            session, req, user_id=user_id, what=what, manager=manager, now=now
        )
        if refusal is not None:
            return refusal
        if not await transition(session, now):
            return _already(await _fresh(session, request_id), now)
        req = await _fresh(session, request_id)
        await _audit(
            session,
            req,
            actor=user_id,
            action=f"refund.{req.status}",
            now=now,
            details=details(req),
        )
        await _show(session, req, version=req.status, now=now, dm=dm)
    deps.metrics.refunds.labels(req.status).inc()
    deps.wake.outbox.set()
    return req


async def approve(deps: Deps, *, request_id: int, user_id: str) -> str | None:
    """A manager's Approve click: win the request and its first Stripe
    attempt in one update, then re-check and refund.

    Returns a message for the clicker alone, or None when the request's
    message (edited through the outbox) says it all.
    """
    decided = await _decide(
        deps,
        request_id=request_id,
        user_id=user_id,
        what="approve",
        transition=lambda session, now: store.approve(
            session,
            request_id=request_id,
            user_id=user_id,
            now=now,
            lease=ATTEMPT_LEASE_SECONDS,
        ),
        details=lambda req: {
            "payment": req.payment_id,
            "requested_by": req.requested_by,
        },
    )
    if isinstance(decided, str):
        return decided
    await _attempt(deps, decided)
    return None


async def _recheck(deps: Deps, req: RefundRequest) -> str | None:
    """Why the refund is no longer possible (other refunds or a dispute came
    since the request), or None. Only for an attempt no earlier one preceded:
    after that, money gone from the payment may be our own refund."""
    try:
        payment = await fetch_payment(deps, req.charge_id, with_customer=False)
    except stripe.StripeError as exc:
        # Stripe checks the same limits when refunding; let it say no there.
        log.warning(
            "re-check of %s before refunding failed: %s",
            req.charge_id,
            describe_error(exc),
        )
        return None
    if payment is None:
        return f"Stripe no longer has the payment {req.charge_id}."
    if payment.blocking_dispute is not None:
        dispute = payment.blocking_dispute
        return (
            f"The payment was disputed after the request ({dispute.id}, "
            f"{dispute.status.replace('_', ' ')}); answer the dispute instead."
        )
    if req.amount > payment.remaining:
        return (
            f"Only {format_amount(payment.remaining, payment.currency)} is left to "
            f"refund on the payment now (other refunds were made since the "
            f"request), less than the {format_amount(req.amount, req.currency)} "
            "asked for. Ask again for what is left."
        )
    return None


# -- refunding --------------------------------------------------------------------


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

    message: str
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
        problem = await _recheck(deps, req)
        if problem is not None:
            return _NotRefunded(problem, "rechecked")
    try:
        created = await call(
            deps.metrics,
            "refunds.create",
            deps.stripe.v1.refunds.create_async(
                refund_params(req), {"idempotency_key": req.idempotency_key}
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
        return _NotRefunded(f"Stripe refused the refund: {describe_error(exc)}", code)
    return refund_from(created.to_dict())


async def _attempt(deps: Deps, req: RefundRequest) -> str | None:
    """Run the attempt this caller claimed (number `req.stripe_attempts`) and
    record its outcome; the request's status afterwards."""
    assert req.id is not None
    try:
        outcome = await _ask_stripe(deps, req)
    except stripe.StripeError as exc:
        return await _retry_later(deps, req, exc)
    if isinstance(outcome, _NotRefunded):
        await _fail(deps, req, outcome.message, code=outcome.code)
        return await _status(deps, req.id)
    async with deps.sessions() as session, session.begin():
        status = await _record_refund(deps, session, req, outcome, now=deps.clock.now())
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
    return await _attempt(deps, req)


async def _status(deps: Deps, request_id: int) -> str | None:
    async with deps.sessions() as session:
        req = await store.get_request(session, request_id=request_id)
        return req.status if req else None


async def _record_refund(
    deps: Deps,
    session: AsyncSession,
    req: RefundRequest,
    refund: RefundInfo,
    *,
    now: float,
) -> str | None:
    """The refund Stripe holds for the request, recorded: succeeded (or failed,
    if the refund failed at once), from any state the request was left in,
    with the message edit and the requester's DM; None if another caller
    recorded it."""
    assert req.id is not None
    failed = refund.status in ("failed", "canceled")
    status = store.FAILED if failed else store.SUCCEEDED
    if not await store.record_refund(
        session,
        request_id=req.id,
        status=status,
        refund_id=refund.id,
        refund_status=refund.status,
        refund_status_at=refund.created,
        refund_reference=refund.reference,
        refund_reference_status=refund.reference_status,
        failure_message=failure_text(refund.failure_reason) if failed else None,
    ):
        return None
    await audit.record(
        session,
        actor="stripe",
        action=f"refund.{status}",
        subject=_subject(req.id),
        now=now,
        amount=refund.amount,
        currency=refund.currency,
        details={
            "refund": refund.id,
            "refund_status": refund.status,
            "charge": req.charge_id,
            "approved_by": req.decided_by,
            "idempotency_key": req.idempotency_key,
            "was": req.status,
        },
    )
    await _show(
        session, await _fresh(session, req.id), version=status, now=now, dm=True
    )
    deps.metrics.refunds.labels(status).inc()
    return status


async def _fail(deps: Deps, req: RefundRequest, message: str, *, code: str) -> None:
    """approved -> failed with the reason on the request: nothing was refunded.
    Only while this attempt is still the newest claim (see fail_unrefunded)."""
    assert req.id is not None
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        if not await store.fail_unrefunded(
            session,
            request_id=req.id,
            attempt=req.stripe_attempts,
            message=message,
        ):
            return
        req = await _fresh(session, req.id)
        await _audit(
            session,
            req,
            actor="stripe",
            action="refund.failed",
            now=now,
            details={"code": code, "message": message, "charge": req.charge_id},
        )
        await _show(session, req, version=store.FAILED, now=now, dm=True)
    deps.metrics.refunds.labels("failed").inc()
    deps.wake.outbox.set()


async def _retry_later(deps: Deps, req: RefundRequest, exc: stripe.StripeError) -> str:
    """Stripe may or may not have refunded: keep the request approved and
    let the retry job ask again with the same key."""
    assert req.id is not None
    message = describe_error(exc)
    log.warning(
        "refund request %s: Stripe did not answer (%s); retrying later",
        req.id,
        type(exc).__name__,
    )
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        delay = backoff(
            req.stripe_attempts, base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS
        )
        if await store.retry_later(
            session,
            request_id=req.id,
            attempt=req.stripe_attempts,
            error=message,
            retry_at=now + delay,
        ):
            await _audit(
                session,
                req,
                actor="stripe",
                action="refund.unanswered",
                now=now,
                details={
                    "error": type(exc).__name__,
                    "message": message,
                    "attempt": req.stripe_attempts,
                    "retry_in_seconds": round(delay),
                },
            )
            await _show(
                session,
                await _fresh(session, req.id),
                version=f"retrying:{req.stripe_attempts}",
                now=now,
            )
    deps.wake.outbox.set()
    return store.APPROVED


async def deny(deps: Deps, *, request_id: int, user_id: str, reason: str) -> str | None:
    """A manager's denial with a reason; a message for them alone, or None."""
    reason = reason.strip()[:_NOTE_MAX]
    decided = await _decide(
        deps,
        request_id=request_id,
        user_id=user_id,
        what="deny",
        transition=lambda session, now: store.deny(
            session, request_id=request_id, user_id=user_id, reason=reason, now=now
        ),
        details=lambda req: {"reason": reason, "requested_by": req.requested_by},
        dm=True,
    )
    return decided if isinstance(decided, str) else None


async def deny_check(deps: Deps, *, request_id: int, user_id: str) -> str | None:
    """Before the Deny modal opens: why it should not (a refusal is audited)."""
    manager = await is_manager(deps, user_id)
    async with deps.sessions() as session, session.begin():
        req = await store.get_request(session, request_id=request_id)
        if req is None:
            return "That refund request does not exist (any more)."
        refusal = await _refused(
            session,
            req,
            user_id=user_id,
            what="deny",
            manager=manager,
            now=deps.clock.now(),
        )
    if refusal is not None:
        return refusal
    if req.status != store.PENDING:
        return _already(req, deps.clock.now())
    return None


# -- jobs ---------------------------------------------------------------------------


async def finish_approved(deps: Deps, *, at_startup: bool = False) -> None:
    """Finish approved requests whose Stripe call may have gone out."""
    # A lone SQLite process starting up holds no lease of its own: any lease
    # on an approved row belonged to the process that died.
    ignore_lease = at_startup and is_sqlite(deps.engine)
    async with deps.sessions() as session:
        ids = await store.approved_ids(
            session, now=deps.clock.now(), ignore_lease=ignore_lease
        )
    for request_id in ids:
        try:
            status = await execute_refund(deps, request_id, ignore_lease=ignore_lease)
        except Exception:
            log.exception("finishing refund request %s failed", request_id)
            continue
        log.info("refund request %s finished as %s", request_id, status)


async def expire_pending(deps: Deps) -> None:
    """Mark requests nobody decided in time; tell the requester."""
    async with deps.sessions() as session:
        ids = await store.expired_ids(session, now=deps.clock.now())
    for request_id in ids:
        async with deps.sessions() as session, session.begin():
            now = deps.clock.now()
            if not await store.expire(session, request_id=request_id, now=now):
                continue
            req = await _fresh(session, request_id)
            await _audit(
                session,
                req,
                actor="system",
                action="refund.expired",
                now=now,
                details={"ttl_hours": deps.settings.REFUND_APPROVAL_TTL_HOURS},
            )
            await _show(session, req, version=store.EXPIRED, now=now, dm=True)
        deps.metrics.refunds.labels("expired").inc()
        deps.wake.outbox.set()


async def remind_pending(deps: Deps) -> None:
    """Once per request, after a quarter of its time, nudge in its thread."""
    wait = deps.settings.REFUND_APPROVAL_TTL_HOURS * 3600.0 / 4
    async with deps.sessions() as session:
        ids = await store.reminder_ids(session, now=deps.clock.now(), wait_seconds=wait)
    for request_id in ids:
        async with deps.sessions() as session, session.begin():
            now = deps.clock.now()
            if not await store.mark_reminded(session, request_id=request_id, now=now):
                continue
            req = await _fresh(session, request_id)
            assert req.message_key is not None
            await outbox.enqueue(
                session,
                key=f"{req.message_key}:reminder",
                channel=await _message_channel(session, req)
                or deps.settings.approvals_channel,
                text=reminder(req, now=now),
                thread_key=req.message_key,
                now=now,
            )
        deps.wake.outbox.set()


# -- Stripe events --------------------------------------------------------------------


def _newer(req: RefundRequest, status: str, created: int) -> bool:
    """Newest object wins: by the event's time, then by how final the status is."""
    if req.refund_status_at is None or created > req.refund_status_at:
        return True
    if created < req.refund_status_at:
        return False
    return _RANK.get(status, 2) >= _RANK.get(req.refund_status or "", 2)


async def apply_refund_event(
    deps: Deps,
    session: AsyncSession,
    obj: dict[str, Any],
    *,
    event_id: str,
    event_created: int,
    now: float,
) -> bool:
    """Take a refund event for a refund made here; False if it is not ours.

    Runs in the event's transaction: the state change, the thread reply and the
    message edit commit together with the event's processed mark.
    """
    refund = refund_from(obj)
    req = await store.find_for_refund(
        session,
        refund_id=refund.id,
        request_key=refund.metadata.get(REQUEST_KEY_METADATA),
    )
    if req is None or req.id is None:
        return False
    if req.refund_id is None:
        # Stripe made the refund before our commit (crash, still in flight,
        # or a request recorded as failed on our own reasoning): what Stripe
        # holds is what we record; the conditional update lets one caller win.
        await _record_refund(deps, session, req, refund, now=now)
        return True
    if req.refund_id != refund.id:
        log.error(
            "refund %s names refund request %s, which has refund %s",
            refund.id,
            req.id,
            req.refund_id,
        )
        return False
    if not _newer(req, refund.status, event_created):
        log.info("ignored %s: older than the refund state we have", event_id)
        return True
    changed = refund.status != req.refund_status or (
        refund.reference is not None and refund.reference != req.refund_reference
    )
    failed_now = refund.status in ("failed", "canceled") and req.status == (
        store.SUCCEEDED
    )
    await store.set_refund_state(
        session,
        request_id=req.id,
        refund_status=refund.status,
        refund_status_at=event_created,
        refund_reference=refund.reference,
        refund_reference_status=refund.reference_status,
        failed=failed_now,
        failure_message=failure_text(refund.failure_reason) if failed_now else None,
    )
    if not changed:
        return True
    await audit.record(
        session,
        actor="stripe",
        action="refund.failed" if failed_now else "refund.updated",
        subject=_subject(req.id),
        now=now,
        amount=refund.amount,
        currency=refund.currency,
        details={
            "refund": refund.id,
            "refund_status": refund.status,
            "failure_reason": refund.failure_reason,
            "event": event_id,
        },
    )
    req = await _fresh(session, req.id)
    assert req.message_key is not None
    await outbox.enqueue(
        session,
        key=f"{req.message_key}:reply:{event_id}",
        channel=await _message_channel(session, req) or deps.settings.approvals_channel,
        text=refund_event_reply(
            req,
            refund_id=refund.id,
            status=refund.status,
            failure_reason=refund.failure_reason,
        ),
        thread_key=req.message_key,
        now=now,
    )
    await _show(session, req, version=f"event:{event_id}", now=now, dm=failed_now)
    if failed_now:
        deps.metrics.refunds.labels("failed").inc()
    return True
