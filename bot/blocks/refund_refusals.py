"""Words for why a refund action is refused (the cases are in bot.refunds).

`refund_refusal_text` is for the person who asked (mrkdwn, escaped here);
`unrefunded_text` is the reason an approved request made no refund, stored
on the request as plain text and escaped where the request is shown.
"""

from __future__ import annotations

from bot.blocks import Place, escape, link
from bot.blocks.refund_words import user
from bot.money import example_amount, exponent, format_amount
from bot.refund_refusals import (
    AlreadyDecided,
    AmountAfterReason,
    BadAmount,
    CurrencyFirst,
    Disputed,
    DisputedSince,
    FullyRefunded,
    LessLeftNow,
    MoreThanLeft,
    NoPaymentNamed,
    NoSuchPayment,
    NotAPaymentId,
    NotSucceeded,
    NoWholeAmountLeft,
    OtherCurrency,
    OthersWaiting,
    OwnRequest,
    PaymentGone,
    PaymentUnreadable,
    StripeSaidNo,
    UnknownRequest,
    WarningInOtherMode,
    WarningNotOffered,
)
from bot.refusals import RefundRefused
from storage import refunds as store
from storage.models import RefundRequest

USAGE = (
    "Write it as `/stripe refund &lt;pi_… | ch_…&gt; [amount] [reason]`, e.g. "
    "`/stripe refund pi_3Abc 12.50 requested_by_customer`. Leave out the amount "
    "to refund all that is left; the amount is in the payment's currency (`12.50` "
    "USD, `500` JPY, `1.250` KWD; `12.50 EUR` when the payment is in euros), with "
    "a point for decimals and no thousands comma. The reason is "
    "`requested_by_customer`, `duplicate` or `fraudulent`; other words are kept as "
    "a note for the approver."
)
_NOTHING = "Nothing was requested."


def _form(payment_id: str, currency: str) -> str:
    """The command as it should be typed, with an example amount."""
    return f"/stripe refund {escape(payment_id)} {example_amount(currency)}"


def _money(amount: int, currency: str) -> str:
    return escape(format_amount(amount, currency))


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


def refund_refusal_text(refused: RefundRefused) -> str:
    """What the person who asked reads, escaped here."""
    match refused:
        case NoPaymentNamed():
            return f"Which payment? {USAGE}"
        case NotAPaymentId(text=text):
            return (
                f"`{escape(text)}` is not a PaymentIntent (`pi_…`) or charge "
                f"(`ch_…`) ID. {USAGE}"
            )
        case PaymentUnreadable(message=message):
            return f"Nothing was requested: {escape(message)}"
        case NoSuchPayment(payment_id=pid):
            return (
                f"Stripe has no payment `{escape(pid)}` (with this bot's API key: a "
                "test-mode key cannot see live payments). Check the ID and try again; "
                "a connected account's payment needs `--account acct_…`."
            )
        case NotSucceeded(payment_id=pid, status=status):
            return (
                f"Payment `{escape(pid)}` is *{escape(status.replace('_', ' '))}*, "
                "not succeeded: only a succeeded payment can be refunded."
            )
        case Disputed(payment_id=pid, dispute=dispute):
            return (
                f"Payment `{escape(pid)}` is disputed (`{escape(dispute.id)}`, "
                f"{escape(dispute.status.replace('_', ' '))}): Stripe does not refund "
                "a disputed payment. Answer the dispute instead with "
                f"`/stripe dispute {escape(dispute.id)}`."
            )
        case FullyRefunded(payment_id=pid):
            return f"Payment `{escape(pid)}` has been fully refunded already."
        case OtherCurrency(payment_id=pid, currency=currency, typed=typed):
            return (
                f"Payment `{escape(pid)}` is in {currency.upper()}, not "
                f"{escape(typed.upper())}: a refund is in the payment's currency. "
                f"Write it like `{_form(pid, currency)}`. {_NOTHING}"
            )
        case CurrencyFirst(payment_id=pid, currency=currency):
            form, code = _form(pid, currency), currency.upper()
            return (
                f"Put the amount first, in {code}: `{form}` (or `{form} {code}`). "
                f"{_NOTHING}"
            )
        case AmountAfterReason(payment_id=pid, currency=currency, reason=reason):
            return (
                "Write the amount right after the payment ID, then the reason: "
                f"`{_form(pid, currency)} {escape(reason)}`. {_NOTHING}"
            )
        case NoWholeAmountLeft(
            payment_id=pid, left=left, currency=currency, problem=problem
        ):
            whole = left // 10 ** exponent(currency)
            return (
                f"{escape(problem)} {_money(left, currency)} is left on "
                f"`{escape(pid)}`, so name a whole amount: "
                f"`/stripe refund {escape(pid)} {whole}`. {_NOTHING}"
            )
        case BadAmount(payment_id=pid, currency=currency, problem=problem):
            return (
                f"{escape(problem)} Write it like `{_form(pid, currency)}`. {_NOTHING}"
            )
        case MoreThanLeft(payment_id=pid, amount=amount, payment=payment):
            currency = payment.currency
            return (
                f"{_money(amount, currency)} is more than what is left to refund on "
                f"`{escape(pid)}`: {_money(payment.remaining, currency)} of "
                f"{_money(payment.amount, currency)} "
                f"({_money(payment.amount_refunded, currency)} refunded already)."
            )
        case OthersWaiting(
            payment_id=pid, waiting=waiting, request_ids=ids, payment=payment
        ):
            numbers = ", ".join(f"#{i}" for i in ids)
            return (
                f"Refund requests {numbers} for "
                f"{_money(waiting, payment.currency)} are already waiting on "
                f"`{escape(pid)}`; with this one they would refund more than the "
                f"{_money(payment.remaining, payment.currency)} left."
            )
        case UnknownRequest():
            return "That refund request does not exist (any more)."
        case OwnRequest():
            return (
                "You asked for this refund, so another manager has to approve it. "
                "Nothing was changed."
            )
        case AlreadyDecided(request=req, now=now):
            return _already(req, now)
        case WarningNotOffered(warning_id=wid, why=why):
            if why is None:
                return (
                    f"I know no early fraud warning `{escape(wid)}`, so nothing "
                    "was requested. Use `/stripe refund ch_… fraudulent` instead."
                )
            return (
                f"The warning `{escape(wid)}` no longer offers a refund "
                f"({escape(why.replace('_', ' '))}), so nothing was requested."
            )
        case WarningInOtherMode(
            warning_id=wid, charge_id=charge, livemode=livemode, account=account
        ):
            mode, key = ("live", "test") if livemode else ("test", "live")
            url = Place(livemode, account).url(charge)
            return (
                f"Warning `{escape(wid)}` is a {mode}-mode warning and stripe-ops "
                f"runs with a {key}-mode key, which cannot act on it, so nothing "
                f"was requested. Refund its charge "
                f"{link(url, 'in the Stripe Dashboard')}."
            )
        case _:
            return escape(unrefunded_text(refused))


def unrefunded_text(refused: RefundRefused) -> str:
    """Why an approved request made no refund (plain text, for storing)."""
    match refused:
        case PaymentGone(charge_id=charge_id):
            return f"Stripe no longer has the payment {charge_id}."
        case DisputedSince(dispute=dispute):
            return (
                f"The payment was disputed after the request ({dispute.id}, "
                f"{dispute.status.replace('_', ' ')}); answer the dispute instead."
            )
        case LessLeftNow(request=req, remaining=remaining, currency=currency):
            return (
                f"Only {format_amount(remaining, currency)} is left to "
                f"refund on the payment now (other refunds were made since the "
                f"request), less than the {format_amount(req.amount, req.currency)} "
                "asked for. Ask again for what is left."
            )
        case StripeSaidNo(message=message):
            return f"Stripe refused the refund: {message}"
        case _:
            raise TypeError(f"no words for {type(refused).__name__}")
