"""What an agent types after the payment ID: the amount, or clearly not one.

A mistyped amount must never become "no amount" (which means everything
left): it is refused with the right form, and nothing is requested.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.blocks.refusals import refusal_text
from bot.refunds import RefundArgs, Refused, check_refund, parse_refund_args
from bot.stripe_lookup import Payment

EUR = Payment(
    id="pi_1",
    charge_id="ch_1",
    payment_intent_id="pi_1",
    customer_id=None,
    customer_label=None,
    amount=500000,
    amount_captured=500000,
    amount_refunded=0,
    currency="eur",
    status="succeeded",
    captured=True,
    disputed=False,
    created=0,
    livemode=False,
)


def paid(currency: str, amount: int) -> Payment:
    return replace(EUR, currency=currency, amount=amount, amount_captured=amount)


JPY = paid("jpy", 5000)


def amount_for(payment: Payment, text: str) -> int:
    return check_refund(payment, parse_refund_args(text))


def refusal(payment: Payment, text: str) -> str:
    with pytest.raises(Refused) as refused:
        amount_for(payment, text)
    return refusal_text(refused.value)


@pytest.mark.parametrize(
    "text",
    [
        "pi_1 EUR 12.50",  # the currency first
        "pi_1 eur 12.50",
        "pi_1 USD 12.50",
        "pi_1 EUR",
        "pi_1 l2.50",  # a lower-case L for the 1
        "pi_1 O.50",  # a capital O for the 0
        "pi_1 o.5O",
        "pi_1 １２.５０",  # full-width digits
        "pi_1 ١٢",  # Arabic-Indic digits
        "pi_1 ۱۲",  # Extended Arabic-Indic (Persian) digits
        "pi_1 12,50",  # a decimal comma
        "pi_1 1,250",  # ambiguous: 1250 or 1.25
        "pi_1 12.50EUR",
        "pi_1 €12.50",
        "pi_1 12.50 USD",  # another currency than the payment's
        "pi_1 duplicate 12.50",  # the amount after the reason
    ],
)
def test_a_mistyped_amount_is_refused_never_read_as_everything_left(
    text: str,
) -> None:
    message = refusal(EUR, text)
    assert "Nothing was requested" in message
    # The right form, with an example, in every refusal.
    assert "/stripe refund pi_1 12.50" in message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("pi_1 EUR 12.50", "Put the amount first"),
        ("pi_1 USD 12.50", "in EUR"),
        ("pi_1 12.50 USD", "in EUR, not USD"),
        ("pi_1 １２.５０", "digits 0-9"),
        ("pi_1 ١٢", "digits 0-9"),
        ("pi_1 1,250", "1250 or 1.25"),
        ("pi_1 l2.50", "digits"),
        ("pi_1 duplicate 12.50", "right after the payment ID"),
    ],
)
def test_each_refusal_says_what_was_wrong(text: str, says: str) -> None:
    assert says in refusal(EUR, text)


def test_full_width_yen_is_refused_with_a_yen_example() -> None:
    message = refusal(JPY, "pi_1 ５００")
    assert "digits 0-9" in message
    assert "/stripe refund pi_1 500" in message


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("pi_1 12.50 EUR", 1250),  # the payment's own currency, after the amount
        ("pi_1 12.50 eur duplicate", 1250),
        ("pi_1 12.50", 1250),
        ("pi_1 1,234.50", 123450),  # a decimal point makes the comma a separator
        ("pi_1", 500000),
        ("pi_1 all of it please", 500000),  # "all" is a word here, not the lek
        ("pi_1 the customer asked", 500000),
    ],
)
def test_amounts_that_mean_one_thing_are_taken(text: str, minor: int) -> None:
    assert amount_for(EUR, text) == minor


def test_a_reason_then_a_note_with_numbers_is_still_a_note() -> None:
    args = parse_refund_args("pi_1 duplicate charged twice on order 1234")
    assert args == RefundArgs("pi_1", None, "duplicate", "charged twice on order 1234")


@pytest.mark.parametrize(
    ("currency", "text", "minor"),
    [
        ("isk", "500", 50000),
        ("huf", "1500", 150000),
        ("twd", "40", 4000),
        ("ugx", "5000", 5000),
        ("isk", "500.00", 50000),
    ],
)
def test_special_currencies_refund_whole_units(
    currency: str, text: str, minor: int
) -> None:
    payment = paid(currency, 10_000_000)
    assert amount_for(payment, f"pi_1 {text}") == minor


@pytest.mark.parametrize(
    ("currency", "text"),
    [("isk", "500.50"), ("huf", "10.25"), ("twd", "0.50"), ("ugx", "10.5")],
)
def test_special_currencies_refuse_fractions(currency: str, text: str) -> None:
    payment = paid(currency, 10_000_000)
    message = refusal(payment, f"pi_1 {text}")
    assert "whole" in message
    assert currency.upper() in message


def test_whole_unit_currency_with_a_fraction_left_needs_an_amount() -> None:
    # An ISK charge from before April 2023 may have fractional krónur left;
    # Stripe refuses to refund a fraction, so "everything left" cannot work.
    payment = paid("isk", 4010)
    message = refusal(payment, "pi_1")
    assert "40.10 ISK" in message
    assert "/stripe refund pi_1 40" in message
