"""Alerts for Stripe events: one per recommended type, escaped, within limits."""

import json
from typing import Any

import pytest

from bot.blocks.alerts import (
    ALERT_GROUPS,
    ALERTED_EVENT_TYPES,
    DIGEST_MAX_ITEMS,
    Alert,
    build_alert,
    build_digest,
)

EVENT_CREATED = 1_700_000_000
DAY = 86_400


def charge(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "ch_3Abc",
        "object": "charge",
        "amount": 1250,
        "amount_refunded": 0,
        "currency": "usd",
        "created": EVENT_CREATED - 60,
        "customer": "cus_Q1",
        "payment_intent": "pi_3Abc",
        "billing_details": {"name": "Jenny Rosen", "email": "jenny@example.com"},
        "description": "Order 1001",
        "failure_code": None,
        "failure_message": None,
        "livemode": True,
        "metadata": {"order_id": "1001"},
        "payment_method_details": {
            "type": "card",
            "card": {"brand": "visa", "last4": "4242"},
        },
        "refunded": False,
        "refunds": {"object": "list", "data": [], "has_more": False},
        "status": "succeeded",
    }
    obj.update(overrides)
    return obj


def payment_intent(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "pi_3Abc",
        "object": "payment_intent",
        "amount": 1250,
        "amount_received": 1250,
        "currency": "usd",
        "created": EVENT_CREATED - 60,
        "customer": "cus_Q1",
        "description": None,
        "last_payment_error": None,
        "latest_charge": "ch_3Abc",
        "livemode": True,
        "metadata": {},
        "cancellation_reason": None,
        "status": "succeeded",
    }
    obj.update(overrides)
    return obj


def refund(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "re_3Abc",
        "object": "refund",
        "amount": 500,
        "charge": "ch_3Abc",
        "payment_intent": "pi_3Abc",
        "currency": "usd",
        "created": EVENT_CREATED - 30,
        "metadata": {},
        "reason": "requested_by_customer",
        "status": "succeeded",
        "destination_details": {"type": "card", "card": {"type": "refund"}},
    }
    obj.update(overrides)
    return obj


def payout(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "po_1Xyz",
        "object": "payout",
        "amount": 110000,
        "arrival_date": EVENT_CREATED + 2 * DAY,
        "created": EVENT_CREATED - 60,
        "currency": "usd",
        "description": "STRIPE PAYOUT",
        "destination": "ba_1Xyz",
        "failure_code": None,
        "failure_message": None,
        "livemode": True,
        "metadata": {},
        "method": "standard",
        "status": "in_transit",
    }
    obj.update(overrides)
    return obj


def dispute(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "dp_1Def",
        "object": "dispute",
        "amount": 1000,
        "charge": "ch_3Abc",
        "payment_intent": "pi_3Abc",
        "currency": "usd",
        "created": EVENT_CREATED - 60,
        "evidence_details": {
            "due_by": EVENT_CREATED + 3 * DAY + 4 * 3600,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": True,
        "metadata": {},
        "payment_method_details": {
            "type": "card",
            "card": {"brand": "visa", "network_reason_code": "10.4"},
        },
        "reason": "fraudulent",
        "status": "needs_response",
    }
    obj.update(overrides)
    return obj


def early_fraud_warning(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "issfr_1Ghi",
        "object": "radar.early_fraud_warning",
        "actionable": True,
        "charge": "ch_3Abc",
        "payment_intent": "pi_3Abc",
        "created": EVENT_CREATED - 60,
        "fraud_type": "made_with_stolen_card",
        "livemode": True,
    }
    obj.update(overrides)
    return obj


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    livemode: bool = True,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": "evt_1Test",
        "object": "event",
        "type": event_type,
        "created": EVENT_CREATED,
        "livemode": livemode,
        "data": data,
    }


def rendered(alert: Alert) -> str:
    """Everything a Slack client could show, as one string."""
    return json.dumps(alert.blocks) + alert.text + alert.summary


# type, object, group, object id, related ids, formatted amount, words
CASES: list[tuple[str, dict[str, Any], str, str, list[str], str | None, str]] = [
    (
        "charge.succeeded",
        charge(),
        "payments",
        "ch_3Abc",
        ["pi_3Abc"],
        "12.50 USD",
        "Payment succeeded",
    ),
    (
        "charge.failed",
        charge(
            status="failed",
            failure_code="card_declined",
            failure_message="Your card was declined.",
        ),
        "payments",
        "ch_3Abc",
        ["pi_3Abc"],
        "12.50 USD",
        "Payment failed",
    ),
    (
        "charge.refunded",
        charge(amount_refunded=500, refunds={"data": [{"id": "re_3Abc"}]}),
        "refunds",
        "ch_3Abc",
        ["pi_3Abc", "re_3Abc"],
        "5.00 USD",
        "Payment partially refunded",
    ),
    (
        "refund.created",
        refund(status="pending"),
        "refunds",
        "re_3Abc",
        ["ch_3Abc", "pi_3Abc"],
        "5.00 USD",
        "Refund created",
    ),
    (
        "refund.updated",
        refund(),
        "refunds",
        "re_3Abc",
        ["ch_3Abc", "pi_3Abc"],
        "5.00 USD",
        "Refund updated",
    ),
    (
        "refund.failed",
        refund(status="failed", failure_reason="expired_or_canceled_card"),
        "refunds",
        "re_3Abc",
        ["ch_3Abc", "pi_3Abc"],
        "5.00 USD",
        "Refund failed",
    ),
    (
        "charge.refund.updated",
        refund(),
        "refunds",
        "re_3Abc",
        ["ch_3Abc", "pi_3Abc"],
        "5.00 USD",
        "Refund updated",
    ),
    (
        "payout.created",
        payout(status="pending"),
        "payouts",
        "po_1Xyz",
        [],
        "1,100.00 USD",
        "Payout created",
    ),
    (
        "payout.paid",
        payout(status="paid"),
        "payouts",
        "po_1Xyz",
        [],
        "1,100.00 USD",
        "Payout paid",
    ),
    (
        "payout.failed",
        payout(
            status="failed",
            failure_code="account_closed",
            failure_message="The bank account has been closed.",
        ),
        "payouts",
        "po_1Xyz",
        [],
        "1,100.00 USD",
        "Payout failed",
    ),
    (
        "payment_intent.succeeded",
        payment_intent(),
        "payments",
        "pi_3Abc",
        ["ch_3Abc"],
        "12.50 USD",
        "Payment succeeded",
    ),
    (
        "payment_intent.payment_failed",
        payment_intent(
            status="requires_payment_method",
            last_payment_error={
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
            },
        ),
        "payments",
        "pi_3Abc",
        ["ch_3Abc"],
        "12.50 USD",
        "Payment failed",
    ),
    (
        "payment_intent.canceled",
        payment_intent(
            status="canceled",
            latest_charge=None,
            cancellation_reason="abandoned",
        ),
        "payments",
        "pi_3Abc",
        [],
        "12.50 USD",
        "Payment canceled",
    ),
    (
        "radar.early_fraud_warning.created",
        early_fraud_warning(),
        "disputes",
        "issfr_1Ghi",
        ["ch_3Abc", "pi_3Abc"],
        None,
        "Early fraud warning",
    ),
    (
        "charge.dispute.created",
        dispute(),
        "disputes",
        "dp_1Def",
        ["ch_3Abc", "pi_3Abc"],
        "10.00 USD",
        "Dispute opened",
    ),
    (
        "charge.dispute.closed",
        dispute(status="lost"),
        "disputes",
        "dp_1Def",
        ["ch_3Abc", "pi_3Abc"],
        "10.00 USD",
        "Dispute lost",
    ),
    (
        "charge.dispute.updated",
        dispute(status="under_review"),
        "disputes",
        "dp_1Def",
        ["ch_3Abc", "pi_3Abc"],
        "10.00 USD",
        "Dispute updated",
    ),
    (
        "charge.dispute.funds_withdrawn",
        dispute(),
        "disputes",
        "dp_1Def",
        ["ch_3Abc", "pi_3Abc"],
        "10.00 USD",
        "Dispute funds withdrawn",
    ),
    (
        "charge.dispute.funds_reinstated",
        dispute(status="won"),
        "disputes",
        "dp_1Def",
        ["ch_3Abc", "pi_3Abc"],
        "10.00 USD",
        "Dispute funds reinstated",
    ),
]


def test_cases_cover_every_alerted_type() -> None:
    assert len(ALERTED_EVENT_TYPES) == 19
    assert {case[0] for case in CASES} == ALERTED_EVENT_TYPES
    assert set(ALERT_GROUPS) == ALERTED_EVENT_TYPES


@pytest.mark.parametrize(
    ("event_type", "obj", "group", "object_id", "related", "amount", "words"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_every_type_alerts(
    event_type: str,
    obj: dict[str, Any],
    group: str,
    object_id: str,
    related: list[str],
    amount: str | None,
    words: str,
) -> None:
    alert = build_alert(event(event_type, obj), now=EVENT_CREATED)

    assert alert is not None
    assert alert.group == group
    blocks = json.dumps(alert.blocks)
    assert words in blocks
    assert words in alert.text
    assert words in alert.summary
    for object_ref in [object_id, *related]:
        assert object_ref in blocks
    assert object_id in alert.text
    assert object_id in alert.summary
    for object_ref in related[:2]:
        if object_ref.startswith(("ch_", "pi_")):
            assert object_ref in alert.summary
    if amount is not None:
        assert amount in blocks
        assert amount in alert.text
        assert amount in alert.summary
    assert "evt_1Test" in blocks
    assert "<!date^" in blocks
    assert "https://dashboard.stripe.com/" in alert.summary
    assert "/test/" not in blocks
    assert "\n" not in alert.summary
    assert_within_limits(alert.blocks)


def assert_within_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            for item in block.get("fields", []):
                assert len(item["text"]) <= 2000
        if block["type"] == "context":
            assert len(block["elements"]) <= 10


@pytest.mark.parametrize(
    "event_type",
    ["customer.created", "invoice.paid", "charge.captured", "plan.created", ""],
)
def test_unknown_type_gives_none(event_type: str) -> None:
    assert build_alert(event(event_type, {"id": "x_1"}), now=EVENT_CREATED) is None


def test_missing_type_gives_none() -> None:
    assert (
        build_alert({"id": "evt_1", "data": {"object": {}}}, now=EVENT_CREATED) is None
    )


HOSTILE_NAME = "<!channel>"
HOSTILE_MESSAGE = "Declined <https://evil|click> & <!here>"


@pytest.mark.parametrize(
    "stripe_event",
    [
        event(
            "charge.failed",
            charge(
                billing_details={"name": HOSTILE_NAME, "email": "<!everyone>@x.test"},
                failure_message=HOSTILE_MESSAGE,
                description="<@U123> buy",
                metadata={"<!channel>": "<!here>"},
            ),
        ),
        event(
            "payment_intent.payment_failed",
            payment_intent(
                customer={"id": "cus_Q1", "name": HOSTILE_NAME, "email": None},
                last_payment_error={"message": HOSTILE_MESSAGE, "code": "<!here>"},
            ),
        ),
        event(
            "refund.failed",
            refund(failure_reason="<!channel>", charge=charge()),
        ),
        event(
            "payout.failed",
            payout(failure_message=HOSTILE_MESSAGE, failure_code="<!channel>"),
        ),
        event(
            "charge.dispute.updated",
            dispute(reason="<!channel>", status="<!here>"),
            previous={"status": "<!channel>", "metadata": {"a": "<!here>"}},
        ),
        event(
            "radar.early_fraud_warning.created",
            early_fraud_warning(fraud_type="<!channel>", charge=charge()),
        ),
    ],
    ids=["charge", "payment_intent", "refund", "payout", "dispute", "efw"],
)
def test_stripe_text_is_escaped_everywhere(stripe_event: dict[str, Any]) -> None:
    alert = build_alert(stripe_event, now=EVENT_CREATED)

    assert alert is not None
    everything = rendered(alert)
    for raw in ["<!channel>", "<!here>", "<!everyone>", "<https://evil", "<@U123>"]:
        assert raw not in everything
    assert "&lt;!channel&gt;" in json.dumps(alert.blocks)


def test_customer_name_and_failure_shown_escaped() -> None:
    alert = build_alert(
        event(
            "charge.failed",
            charge(
                billing_details={"name": HOSTILE_NAME, "email": None},
                failure_message=HOSTILE_MESSAGE,
            ),
        ),
        now=EVENT_CREATED,
    )

    assert alert is not None
    blocks = json.dumps(alert.blocks)
    assert "&lt;!channel&gt;" in blocks
    assert "Declined &lt;https://evil|click&gt; &amp; &lt;!here&gt;" in blocks
    assert "cus_Q1" in blocks
    assert "jenny@example.com" not in blocks


def test_long_stripe_text_is_cut_to_limits() -> None:
    alert = build_alert(
        event(
            "charge.failed",
            charge(
                failure_message="&" * 5000,
                description="<" * 5000,
                billing_details={"name": "n" * 5000, "email": "e" * 5000},
                metadata={f"k{i}": "v" * 5000 for i in range(50)},
            ),
        ),
        now=EVENT_CREATED,
    )

    assert alert is not None
    assert_within_limits(alert.blocks)
    assert "…" in json.dumps(alert.blocks, ensure_ascii=False)


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [
        ("jpy", 5000, "5,000 JPY"),
        ("kwd", 1250, "1.250 KWD"),
        ("krw", 12000, "12,000 KRW"),
        ("bhd", 100, "0.100 BHD"),
    ],
)
def test_currency_exponents(currency: str, amount: int, expected: str) -> None:
    alert = build_alert(
        event("charge.succeeded", charge(amount=amount, currency=currency)),
        now=EVENT_CREATED,
    )

    assert alert is not None
    assert expected in json.dumps(alert.blocks)
    assert expected in alert.summary
    assert expected in alert.text


def test_charge_refunded_shows_refunded_amount() -> None:
    alert = build_alert(
        event(
            "charge.refunded",
            charge(amount=5000, currency="jpy", amount_refunded=5000, refunded=True),
        ),
        now=EVENT_CREATED,
    )

    assert alert is not None
    assert "Payment fully refunded" in alert.text
    assert "5,000 JPY" in alert.summary


def test_test_mode_links_go_to_test_dashboard() -> None:
    alert = build_alert(
        event("charge.dispute.created", dispute(livemode=False), livemode=False),
        now=EVENT_CREATED,
    )

    assert alert is not None
    blocks = json.dumps(alert.blocks)
    assert "https://dashboard.stripe.com/test/disputes/dp_1Def" in blocks
    assert "https://dashboard.stripe.com/test/payments/ch_3Abc" in blocks
    assert "https://dashboard.stripe.com/disputes" not in blocks
    assert "https://dashboard.stripe.com/test/disputes/dp_1Def" in alert.summary
    assert "Test mode" in blocks


def test_live_mode_links_go_to_live_dashboard() -> None:
    alert = build_alert(event("refund.created", refund()), now=EVENT_CREATED)

    assert alert is not None
    assert "https://dashboard.stripe.com/refunds/re_3Abc" in json.dumps(alert.blocks)
    assert "Test mode" not in json.dumps(alert.blocks)


def test_early_fraud_warning_links_to_its_charge() -> None:
    alert = build_alert(
        event("radar.early_fraud_warning.created", early_fraud_warning()),
        now=EVENT_CREATED,
    )

    assert alert is not None
    assert "https://dashboard.stripe.com/payments/ch_3Abc" in alert.summary
    assert "USD" not in rendered(alert)


def test_dispute_shows_reason_and_deadline() -> None:
    alert = build_alert(event("charge.dispute.created", dispute()), now=EVENT_CREATED)

    assert alert is not None
    blocks = json.dumps(alert.blocks)
    due_by = EVENT_CREATED + 3 * DAY + 4 * 3600
    assert f"<!date^{due_by}^" in blocks
    assert "in 3 days 4 hours" in blocks
    assert "fraudulent" in blocks
    assert f"<!date^{due_by}^" in alert.summary
    assert alert.text == "Dispute opened: 10.00 USD on ch_3Abc (dp_1Def)"


@pytest.mark.parametrize("due_by", [0, None])
def test_dispute_without_deadline_says_no_response(due_by: int | None) -> None:
    obj = dispute(
        evidence_details={"due_by": due_by, "has_evidence": False},
        status="warning_needs_response",
    )

    alert = build_alert(event("charge.dispute.created", obj), now=EVENT_CREATED)

    assert alert is not None
    assert "the bank allows no response" in json.dumps(alert.blocks)
    assert "no response" in alert.summary
    assert "<!date^0^" not in json.dumps(alert.blocks)


def test_overdue_dispute_says_overdue() -> None:
    obj = dispute(
        evidence_details={"due_by": EVENT_CREATED - 2 * 3600, "has_evidence": True}
    )

    alert = build_alert(event("charge.dispute.updated", obj), now=EVENT_CREATED)

    assert alert is not None
    assert "overdue by 2 hours" in json.dumps(alert.blocks)


def test_deadline_counts_down_from_when_the_event_is_processed() -> None:
    # Stripe made the event two days before the worker got to it (a backlog, a
    # retry): the time left is counted from now, as the card and reminders do.
    obj = dispute(evidence_details={"due_by": EVENT_CREATED + 7 * DAY})

    alert = build_alert(
        event("charge.dispute.updated", obj), now=EVENT_CREATED + 2 * DAY - 30
    )

    assert alert is not None
    assert "in 5 days" in json.dumps(alert.blocks)
    assert "in 7 days" not in json.dumps(alert.blocks)


def test_dispute_updated_lists_changes() -> None:
    alert = build_alert(
        event(
            "charge.dispute.updated",
            dispute(status="under_review"),
            previous={"status": "needs_response"},
        ),
        now=EVENT_CREATED,
    )

    assert alert is not None
    assert "status: needs_response → under_review" in json.dumps(
        alert.blocks, ensure_ascii=False
    )


def test_expanded_fields_are_read_as_objects() -> None:
    expanded_charge = charge(
        billing_details={"name": "Ana Ng", "email": "ana@example.com"}
    )
    alert = build_alert(
        event(
            "charge.dispute.created",
            dispute(charge=expanded_charge, payment_intent={"id": "pi_3Abc"}),
        ),
        now=EVENT_CREATED,
    )

    assert alert is not None
    blocks = json.dumps(alert.blocks)
    assert "ch_3Abc" in blocks
    assert "pi_3Abc" in blocks
    assert "Ana Ng" in blocks
    assert "cus_Q1" in blocks

    alert = build_alert(
        event(
            "payment_intent.succeeded",
            payment_intent(latest_charge=charge(), customer={"id": "cus_Q1"}),
        ),
        now=EVENT_CREATED,
    )
    assert alert is not None
    blocks = json.dumps(alert.blocks)
    assert "ch_3Abc" in blocks
    assert "cus_Q1" in blocks
    assert "Jenny Rosen" in blocks


def test_failures_name_the_reason() -> None:
    cases = {
        "charge.failed": charge(failure_message="Your card was declined."),
        "payment_intent.payment_failed": payment_intent(
            last_payment_error={"message": "Your card was declined."}
        ),
        "payout.failed": payout(
            failure_message="Your card was declined.", failure_code="x"
        ),
    }
    for event_type, obj in cases.items():
        alert = build_alert(event(event_type, obj), now=EVENT_CREATED)
        assert alert is not None
        assert "Your card was declined." in json.dumps(alert.blocks)

    alert = build_alert(
        event("refund.failed", refund(failure_reason="lost_or_stolen_card")),
        now=EVENT_CREATED,
    )
    assert alert is not None
    assert "lost or stolen" in json.dumps(alert.blocks)


def test_sparse_object_still_alerts() -> None:
    alert = build_alert(
        event("charge.dispute.created", {"id": "dp_1"}), now=EVENT_CREATED
    )

    assert alert is not None
    assert "dp_1" in alert.summary


def summaries(count: int) -> list[str]:
    result = []
    for i in range(count):
        alert = build_alert(
            event("charge.succeeded", charge(id=f"ch_{i:04d}", amount=100 + i)),
            now=EVENT_CREATED,
        )
        assert alert is not None
        result.append(alert.summary)
    return result


def test_digest_names_every_event_within_limits() -> None:
    lines = summaries(DIGEST_MAX_ITEMS)

    text, blocks = build_digest(lines)

    assert DIGEST_MAX_ITEMS == 40
    assert text == "40 Stripe events"
    assert blocks[0]["type"] == "header"
    assert "40 Stripe events" in blocks[0]["text"]["text"]
    body = json.dumps(blocks)
    for i in range(DIGEST_MAX_ITEMS):
        assert f"ch_{i:04d}" in body
    assert_within_limits(blocks)


def test_digest_of_longest_lines_still_fits() -> None:
    lines = ["x" * 5000 for _ in range(DIGEST_MAX_ITEMS)]

    _, blocks = build_digest(lines, total=500)

    assert_within_limits(blocks)
    assert "500 Stripe events" in blocks[0]["text"]["text"]
    assert "Showing 40 of 500" in json.dumps(blocks)


def test_digest_of_one_event() -> None:
    text, _ = build_digest(summaries(1))

    assert text == "1 Stripe event"


def test_digest_over_the_limit_raises() -> None:
    with pytest.raises(ValueError, match="at most 40"):
        build_digest(summaries(DIGEST_MAX_ITEMS + 1))


@pytest.mark.parametrize(
    ("lines", "total"), [([], None), (["a", "b"], 1)], ids=["empty", "total"]
)
def test_digest_rejects_bad_input(lines: list[str], total: int | None) -> None:
    with pytest.raises(ValueError, match="digest|total"):
        build_digest(lines, total=total)
