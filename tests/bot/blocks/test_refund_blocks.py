"""Refund and customer Block Kit: escaped, within Slack's limits, worded for people."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.blocks import OPEN_IN_STRIPE_ACTION
from bot.blocks.customer import customer_answer
from bot.blocks.refunds import (
    APPROVE_ACTION,
    DENY_ACTION,
    OPEN_MODAL_ACTION,
    arn_sentence,
    deny_modal,
    outcome_dm,
    refund_modal,
    refunds_answer,
    request_message,
)
from bot.stripe_lookup import (
    CustomerInfo,
    CustomerView,
    DisputeInfo,
    Lookup,
    Payment,
    PaymentMethodInfo,
    Query,
    RefundInfo,
    RefundsLookup,
)
from storage.models import RefundRequest

NOW = 1_700_000_000


def a_request(**overrides: Any) -> RefundRequest:
    values: dict[str, Any] = {
        "id": 7,
        "status": "pending",
        "payment_id": "pi_3Abc",
        "charge_id": "ch_3Abc",
        "customer_id": "cus_Q1",
        "customer_label": "<!channel> Rosen <jenny@example.com>",
        "amount": 1250,
        "currency": "usd",
        "payment_amount": 2000,
        "reason": "requested_by_customer",
        "note": "box *crushed* & <b>wet</b>",
        "livemode": False,
        "requested_by": "U_AGENT",
        "requested_in": "C_SUPPORT",
        "requested_at": NOW,
        "expires_at": NOW + 86_400,
        "idempotency_key": "stripe-ops-refund-x",
        "message_key": "refund_request:7",
    }
    values.update(overrides)
    return RefundRequest(**values)


def shown(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def actions(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        element["action_id"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        # The *Open in Stripe* link acts on nothing: only buttons that do count.
        if element["action_id"] != OPEN_IN_STRIPE_ACTION
    ]


def test_a_pending_request_shows_everything_an_approver_needs() -> None:
    text, blocks = request_message(a_request())
    out = shown(blocks)
    for expected in (
        "12.50 USD of 20.00 USD",
        "pi_3Abc",
        "<@U_AGENT>",
        "Requested by the customer",
        "&lt;!channel&gt; Rosen &lt;jenny@example.com&gt;",
        "box *crushed* &amp; &lt;b&gt;wet&lt;/b&gt;",
        "<#C_SUPPORT>",
        "Test mode",
    ):
        assert expected in out, expected
    assert "<!channel>" not in out
    assert actions(blocks) == [APPROVE_ACTION, DENY_ACTION]
    approve = blocks[-2]["elements"][0]
    assert approve["value"] == "7"
    assert "cannot be undone" in approve["confirm"]["text"]["text"]
    assert text == "Refund request #7: 12.50 USD on pi_3Abc"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"status": "approved", "decided_by": "U_MGR", "decided_at": NOW},
            "Approved by <@U_MGR>",
        ),
        (
            {
                "status": "approved",
                "decided_by": "U_MGR",
                "decided_at": NOW,
                "last_error": "Stripe could not be reached.",
            },
            "customer is refunded once",
        ),
        (
            {
                "status": "succeeded",
                "decided_by": "U_MGR",
                "decided_at": NOW,
                "refund_id": "re_9",
                "refund_status": "succeeded",
                "refund_reference": "123456",
                "refund_reference_status": "available",
            },
            "reference number (ARN) for their bank: `123456`",
        ),
        (
            {
                "status": "failed",
                "decided_by": "U_MGR",
                "decided_at": NOW,
                "failure_message": "Stripe refused the refund: <no> funds",
            },
            "nothing was refunded. Stripe refused the refund: &lt;no&gt; funds",
        ),
        (
            {
                "status": "denied",
                "decided_by": "U_MGR",
                "decided_at": NOW,
                "deny_reason": "past <30> days",
            },
            "Denied by <@U_MGR>",
        ),
        ({"status": "expired", "decided_at": NOW + 86_400}, "Expired"),
    ],
)
def test_a_decided_request_says_what_happened_and_has_no_buttons(
    overrides: dict[str, Any], expected: str
) -> None:
    _, blocks = request_message(a_request(**overrides))
    assert expected in shown(blocks)
    assert actions(blocks) == []
    assert len(blocks) <= 50


def test_the_requesters_dm_names_the_outcome() -> None:
    done = a_request(
        status="succeeded",
        decided_by="U_MGR",
        refund_id="re_9",
        refund_status="pending",
    )
    assert "approved by <@U_MGR>" in outcome_dm(done)
    assert "re_9" in outcome_dm(done)
    denied = a_request(status="denied", decided_by="U_MGR", deny_reason="<nope>")
    assert "denied by <@U_MGR>: &lt;nope&gt;" in outcome_dm(denied)
    expired = a_request(status="expired")
    assert "/stripe refund pi_3Abc" in outcome_dm(expired)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {
                "status": "succeeded",
                "reference": "7456",
                "reference_status": "available",
            },
            "Give the customer this reference number (ARN) for their bank: `7456`",
        ),
        (
            {"status": "succeeded", "reference": None, "reference_status": "pending"},
            "not available yet",
        ),
        (
            {
                "status": "succeeded",
                "reference": None,
                "reference_status": "unavailable",
            },
            "gave no reference number",
        ),
        (
            {
                "status": "succeeded",
                "reference": None,
                "reference_status": None,
                "destination_type": "us_bank_transfer",
            },
            "us bank transfer, not to a card",
        ),
    ],
)
def test_the_arn_is_worded_for_the_customer(
    kwargs: dict[str, Any], expected: str
) -> None:
    assert expected in (arn_sentence(**kwargs) or "")


def test_a_failed_refund_has_no_arn_sentence() -> None:
    assert arn_sentence(status="failed", reference=None, reference_status=None) is None


def a_refund(n: int, **overrides: Any) -> RefundInfo:
    values: dict[str, Any] = {
        "id": f"re_{n}",
        "amount": 100 + n,
        "currency": "kwd",
        "status": "succeeded",
        "reason": None,
        "created": NOW,
        "charge_id": "ch_1",
        "payment_intent_id": "pi_1",
        "failure_reason": None,
        "destination_type": "card",
        "reference": f"ARN{n}",
        "reference_status": "available",
        "metadata": {},
    }
    values.update(overrides)
    return RefundInfo(**values)


def test_many_refunds_fit_in_one_message() -> None:
    found = RefundsLookup(
        Query("payment_intent", "pi_1"),
        [a_refund(n) for n in range(100)],
        None,
        more=True,
    )
    text, blocks = refunds_answer(found)
    assert len(blocks) <= 50
    assert "Showing the newest" in shown(blocks)
    assert "0.101 KWD" in shown(blocks)
    assert text == "100 refunds on pi_1"


def test_a_failed_refund_says_why_and_gives_no_arn() -> None:
    found = RefundsLookup(
        Query("refund", "re_1"),
        [a_refund(1, status="failed", failure_reason="lost_or_stolen_card")],
        None,
        more=False,
    )
    _, blocks = refunds_answer(found)
    assert "card was reported lost or stolen" in shown(blocks)
    assert "ARN1" not in shown(blocks)


def a_payment(n: int, **overrides: Any) -> Payment:
    values: dict[str, Any] = {
        "id": f"pi_{n}",
        "charge_id": f"ch_{n}",
        "payment_intent_id": f"pi_{n}",
        "customer_id": "cus_1",
        "customer_label": None,
        "amount": 1000,
        "amount_captured": 1000,
        "amount_refunded": 0,
        "currency": "usd",
        "status": "succeeded",
        "captured": True,
        "disputed": False,
        "created": NOW,
        "livemode": True,
        "description": "Order <1>",
    }
    values.update(overrides)
    return Payment(**values)


def a_customer(n: int, payments: list[Payment]) -> CustomerView:
    return CustomerView(
        customer=CustomerInfo(
            id=f"cus_{n}", name="@here", email="a@b.c", created=NOW, livemode=True
        ),
        payment_methods=[
            PaymentMethodInfo(f"pm_{n}", "card", "visa", "4242", 1, 2030, True)
        ],
        payments=payments,
        more_payments=True,
        disputes=[
            DisputeInfo(
                "dp_1", "ch_1", 1000, "usd", "fraudulent", "needs_response", NOW, False
            )
        ],
    )


def test_five_customers_with_ten_payments_fit_in_fifty_blocks() -> None:
    lookup = Lookup(
        Query("email", "a@b.c"),
        [a_customer(n, [a_payment(i) for i in range(10)]) for n in range(5)],
        more_customers=True,
    )
    text, blocks = customer_answer(lookup)
    assert len(blocks) <= 50
    assert text == "5 customers for a@b.c"
    for n in range(5):
        assert f"cus_{n}" in shown(blocks)
    assert "&lt;1&gt;" in shown(blocks)


def test_only_refundable_payments_get_a_refund_button() -> None:
    chargeback = DisputeInfo(
        "dp_9", "ch_2", 1000, "usd", "fraudulent", "needs_response", NOW, False
    )
    inquiry = DisputeInfo(
        "dp_8", "ch_5", 1000, "usd", "fraudulent", "warning_needs_response", NOW, True
    )
    payments = [
        a_payment(1),
        a_payment(2, disputed=True, disputes=(chargeback,)),
        a_payment(3, amount_refunded=1000),
        a_payment(4, status="requires_payment_method", charge_id=None),
        a_payment(5, disputed=True, disputes=(inquiry,), amount_refunded=250),
    ]
    _, blocks = customer_answer(
        Lookup(Query("customer", "cus_1"), [a_customer(1, payments)])
    )
    buttons = [
        json.loads(block["accessory"]["value"])
        for block in blocks
        if block.get("accessory", {}).get("action_id") == OPEN_MODAL_ACTION
    ]
    assert buttons == [
        {"p": "pi_1", "c": "usd", "r": 1000},
        {"p": "pi_5", "c": "usd", "r": 750},
    ]
    assert "fully refunded 10.00 USD" in shown(blocks)


def test_modals_fit_slacks_limits() -> None:
    modal = refund_modal(
        payment_id="pi_1",
        currency="jpy",
        remaining=5000,
        private_metadata={"p": "pi_1", "u": "https://hooks.slack.com/x" * 20},
    )
    assert len(modal["title"]["text"]) <= 24
    assert len(modal["private_metadata"]) <= 3000
    assert "Amount in JPY" in shown(modal["blocks"])
    assert "5,000 JPY left" in shown(modal["blocks"])
    deny = deny_modal(a_request(), private_metadata={"r": 7})
    assert len(deny["title"]["text"]) <= 24
    assert json.loads(deny["private_metadata"]) == {"r": 7}
