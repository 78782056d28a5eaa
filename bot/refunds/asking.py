"""Asking: an agent's `/stripe refund` (or the Refund… form) read, checked
against the payment in Stripe, and posted for the approvers.

Nothing is refunded here; a `RefundRefused` case says why nothing was asked.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Literal

import stripe

from bot.blocks.refund_words import NOTE_MAX, STRIPE_REASONS
from bot.blocks.refunds import request_message, request_sent
from bot.connect import read_name
from bot.deps import Deps
from bot.money import (
    AmountError,
    check_refundable_units,
    currency_code,
    looks_like_amount,
    parse_refund_amount,
)
from bot.refund_refusals import (
    AmountAfterReason,
    BadAmount,
    CurrencyFirst,
    Disputed,
    FullyRefunded,
    MoreThanLeft,
    NoPaymentNamed,
    NoSuchPayment,
    NotAPaymentId,
    NotSucceeded,
    NoWholeAmountLeft,
    OtherCurrency,
    OthersWaiting,
    PaymentUnreadable,
)
from bot.refunds.messages import audit_request
from bot.stripe_api import describe_error
from bot.stripe_lookup import Payment, fetch_payment
from storage import outbox
from storage import refunds as store

_PAYMENT_ID = re.compile(r"(?:pi|ch)_[A-Za-z0-9]+")

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
    # The connected account the payment lives in (`--account acct_…`).
    account: str | None = None


def split_reason(text: str | None) -> tuple[str | None, str | None]:
    """(Stripe's reason, note): a leading reason word is Stripe's, the rest a note."""
    words = (text or "").split()
    if not words:
        return None, None
    first = words[0].lower().replace("-", "_")
    if first in STRIPE_REASONS:
        rest = " ".join(words[1:])
        return first, rest[:NOTE_MAX] or None
    return None, " ".join(words)[:NOTE_MAX]


def parse_refund_args(text: str) -> RefundArgs:
    """`<pi_|ch_> [amount [currency]] [reason or note…]`, or a refusal with how
    to write it. Whether the amount is well formed is checked against the
    payment's currency, in `check_refund`."""
    words = text.split()
    if not words:
        raise NoPaymentNamed()
    payment_id = words[0]
    if not _PAYMENT_ID.fullmatch(payment_id):
        raise NotAPaymentId(payment_id)
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


def check_refund(payment: Payment | None, args: RefundArgs) -> int:
    """The amount to refund in minor units, or a refusal before anything is asked."""
    pid = args.payment_id
    if payment is None:
        raise NoSuchPayment(pid)
    if not payment.succeeded or not payment.captured:
        raise NotSucceeded(pid, payment.status)
    if payment.blocking_dispute is not None:
        raise Disputed(pid, payment.blocking_dispute)
    currency = payment.currency
    left = payment.remaining
    if left <= 0:
        raise FullyRefunded(pid)
    if args.currency is not None and args.currency.lower() != currency.lower():
        raise OtherCurrency(pid, currency, args.currency)
    if args.misplaced == "currency_first":
        raise CurrencyFirst(pid, currency)
    if args.misplaced == "amount_after_reason":
        raise AmountAfterReason(pid, currency, args.reason or "")
    if args.amount_text is None:
        try:
            check_refundable_units(left, currency)
        except AmountError as exc:
            raise NoWholeAmountLeft(pid, left, currency, str(exc)) from None
        return left
    try:
        amount = parse_refund_amount(args.amount_text, currency)
    except AmountError as exc:
        raise BadAmount(pid, currency, str(exc)) from None
    if amount > left:
        raise MoreThanLeft(pid, amount, payment)
    return amount


async def request_refund(
    deps: Deps, *, user_id: str, channel_id: str | None, args: RefundArgs
) -> str:
    """Check the payment in Stripe, then post the approval request; the answer
    for the requester says where it went. Raises RefundRefused."""
    try:
        payment = await fetch_payment(deps, args.payment_id, account=args.account)
    except stripe.StripeError as exc:
        raise PaymentUnreadable(describe_error(exc)) from exc
    amount = check_refund(payment, args)
    assert payment is not None
    assert payment.charge_id is not None
    # Read before the transaction: no network call inside one.
    account_name = await read_name(deps, args.account) if args.account else None
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
            raise OthersWaiting(args.payment_id, waiting, ids, payment)
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
                account=args.account,
                account_name=account_name,
                requested_by=user_id,
                requested_in=channel_id,
                # Random, not the row id: a database restored or rebuilt against
                # the same Stripe account must never replay another request's
                # refund.
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
        await audit_request(
            session,
            req,
            actor=user_id,
            action="refund.requested",
            now=now,
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
