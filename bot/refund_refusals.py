"""Why a refund will not be asked for or made: the cases, as values.

Raised by bot.refunds (which re-exports the base as `Refused`); each carries
the objects involved, and the words are in `bot.blocks.refund_refusals`.
Nothing was changed when one is raised. A leaf module beside the flow, not in
it, so the words can import the cases without importing the flow (which
imports the builders).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.refusals import RefundRefused
from bot.stripe_lookup import DisputeInfo, Payment
from storage.models import RefundRequest

# -- what an agent typed (parse_refund_args, check_refund) ------------------------


@dataclass(eq=False)
class NoPaymentNamed(RefundRefused):
    """`/stripe refund` with nothing after it."""


@dataclass(eq=False)
class NotAPaymentId(RefundRefused):
    """The first word is not a `pi_…` or `ch_…` ID."""

    text: str


@dataclass(eq=False)
class OtherCurrency(RefundRefused):
    """A currency code after the amount that is not the payment's."""

    payment_id: str
    currency: str  # the payment's
    typed: str


@dataclass(eq=False)
class CurrencyFirst(RefundRefused):
    """`EUR 12.50`: the code where the amount belongs."""

    payment_id: str
    currency: str


@dataclass(eq=False)
class AmountAfterReason(RefundRefused):
    """`duplicate 12.50`: an amount that would otherwise become the note."""

    payment_id: str
    currency: str
    reason: str


@dataclass(eq=False)
class BadAmount(RefundRefused):
    """An amount that does not read as one amount in the payment's currency."""

    payment_id: str
    currency: str
    problem: str  # bot.money.AmountError's words


@dataclass(eq=False)
class NoWholeAmountLeft(RefundRefused):
    """All that is left cannot be refunded in whole units (e.g. HUF)."""

    payment_id: str
    left: int
    currency: str
    problem: str


# -- the payment in Stripe -------------------------------------------------------


@dataclass(eq=False)
class PaymentUnreadable(RefundRefused):
    """Stripe did not give us the payment (down, or a key without the
    permission): nothing can be checked, so nothing is asked."""

    message: str  # bot.stripe_api.describe_error's words


@dataclass(eq=False)
class NoSuchPayment(RefundRefused):
    """Stripe has no such payment for this key."""

    payment_id: str


@dataclass(eq=False)
class NotSucceeded(RefundRefused):
    """The payment did not succeed (or was not captured)."""

    payment_id: str
    status: str


@dataclass(eq=False)
class Disputed(RefundRefused):
    """A dispute stands in the way: Stripe refunds no disputed payment."""

    payment_id: str
    dispute: DisputeInfo


@dataclass(eq=False)
class FullyRefunded(RefundRefused):
    """Nothing is left to refund."""

    payment_id: str


@dataclass(eq=False)
class MoreThanLeft(RefundRefused):
    """The amount asked for is more than what is left on the payment."""

    payment_id: str
    amount: int
    payment: Payment


@dataclass(eq=False)
class OthersWaiting(RefundRefused):
    """With the requests already waiting, this one would refund too much."""

    payment_id: str
    waiting: int
    request_ids: list[int]
    payment: Payment


@dataclass(eq=False)
class WarningNotOffered(RefundRefused):
    """An early fraud warning's Refund… button that no longer offers a refund
    (unknown warning, or the charge was disputed or refunded since)."""

    warning_id: str
    why: str | None  # bot.blocks.fraud_warnings.CLOSED_WORDS' keys; None: unknown


@dataclass(eq=False)
class WarningInOtherMode(RefundRefused):
    """An early fraud warning in the other mode (test or live) than the bot's
    key, which can neither read its charge nor refund it."""

    warning_id: str
    charge_id: str
    livemode: bool
    account: str | None


# -- a manager's decision ----------------------------------------------------------


@dataclass(eq=False)
class UnknownRequest(RefundRefused):
    """No such request (any more)."""

    request_id: int


@dataclass(eq=False)
class OwnRequest(RefundRefused):
    """The requester may not approve their own refund."""

    request: RefundRequest


@dataclass(eq=False)
class AlreadyDecided(RefundRefused):
    """Someone decided first, or the request ran out (`now` tells which)."""

    request: RefundRequest
    now: float


# -- found before the Stripe call: nothing refunded (stored, then shown) ---------------


@dataclass(eq=False)
class PaymentGone(RefundRefused):
    """Stripe no longer has the payment."""

    charge_id: str


@dataclass(eq=False)
class DisputedSince(RefundRefused):
    """The payment was disputed after the request."""

    dispute: DisputeInfo


@dataclass(eq=False)
class LessLeftNow(RefundRefused):
    """Other refunds since the request left less than it asked for."""

    request: RefundRequest
    remaining: int
    currency: str


@dataclass(eq=False)
class StripeSaidNo(RefundRefused):
    """Stripe refused the refund call; its words."""

    message: str
