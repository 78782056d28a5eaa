"""Reading `/stripe refund …` and the checks made before anything is asked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.blocks.refusals import refusal_text
from bot.refunds import RefundArgs, Refused, check_refund, parse_refund_args
from bot.stripe_lookup import DisputeInfo, Payment

PAYMENT = Payment(
    id="pi_1",
    charge_id="ch_1",
    payment_intent_id="pi_1",
    customer_id=None,
    customer_label=None,
    amount=5000,
    amount_captured=5000,
    amount_refunded=1000,
    currency="kwd",
    status="succeeded",
    captured=True,
    disputed=False,
    created=0,
    livemode=False,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pi_1", RefundArgs("pi_1")),
        ("ch_1 12.50", RefundArgs("ch_1", "12.50")),
        ("pi_1 fraudulent", RefundArgs("pi_1", None, "fraudulent")),
        ("pi_1 5 Duplicate", RefundArgs("pi_1", "5", "duplicate")),
        (
            "pi_1 5 requested-by-customer wants it back",
            RefundArgs("pi_1", "5", "requested_by_customer", "wants it back"),
        ),
        ("pi_1 it broke", RefundArgs("pi_1", None, None, "it broke")),
        ("pi_1 -3 oops", RefundArgs("pi_1", "-3", None, "oops")),
        ("pi_1 $3", RefundArgs("pi_1", "$3")),
    ],
)
def test_arguments_are_payment_amount_then_reason_or_note(
    text: str, expected: RefundArgs
) -> None:
    assert parse_refund_args(text) == expected


@pytest.mark.parametrize("text", ["", "cus_1 5", "pi_ 5", "pi_1<!here> 5"])
def test_anything_but_a_payment_id_first_is_refused(text: str) -> None:
    with pytest.raises(Refused) as refused:
        parse_refund_args(text)
    assert "refund &lt;pi_" in refusal_text(refused.value)


@pytest.mark.parametrize(
    ("amount", "minor"), [(None, 4000), ("4", 4000), ("1.250", 1250), ("0.001", 1)]
)
def test_kwd_amounts_up_to_what_is_left(amount: str | None, minor: int) -> None:
    assert check_refund(PAYMENT, RefundArgs("pi_1", amount)) == minor


@pytest.mark.parametrize(
    ("payment", "amount", "message"),
    [
        (None, "1", "Stripe has no payment"),
        (PAYMENT, "4.001", "more than what is left"),
        (PAYMENT, "1.2345", "at most 3 decimal places"),
        (PAYMENT, "0", "more than zero"),
        (PAYMENT, "$1", "no currency sign"),
        (replace(PAYMENT, status="processing"), "1", "*processing*, not succeeded"),
        (replace(PAYMENT, captured=False), "1", "not succeeded"),
        (replace(PAYMENT, amount_refunded=5000), None, "fully refunded"),
        (
            replace(
                PAYMENT,
                disputed=True,
                disputes=(
                    DisputeInfo("dp_1", "ch_1", 1, "kwd", None, "lost", None, False),
                ),
            ),
            "1",
            "/stripe dispute dp_1",
        ),
    ],
)
def test_refusals_say_why(
    payment: Payment | None, amount: str | None, message: str
) -> None:
    with pytest.raises(Refused) as refused:
        check_refund(payment, RefundArgs("pi_1", amount))
    assert message in refusal_text(refused.value)
