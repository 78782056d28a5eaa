"""Dashboard links: the URL of each kind of object, test mode, Connect; the
*Open in Stripe* button on alerts; what a message says about mode and account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.blocks import OPEN_IN_STRIPE_ACTION, Place, dashboard_url
from bot.blocks.alerts import build_alert
from tests.support import (
    charge,
    dispute,
    early_fraud_warning,
    event,
    payout,
    refund,
)

BASE = "https://dashboard.stripe.com"
ACCT = "acct_1Nv0FGQ9RKHgCVdK"


@pytest.mark.parametrize(
    ("object_id", "path"),
    [
        ("pi_3Abc", "payments/pi_3Abc"),
        ("ch_3Abc", "payments/ch_3Abc"),
        ("py_1Abc", "payments/py_1Abc"),
        ("cus_Abc", "customers/cus_Abc"),
        ("dp_1Abc", "disputes/dp_1Abc"),
        ("du_1Abc", "disputes/du_1Abc"),
        ("re_3Abc", "refunds/re_3Abc"),
        ("po_1Abc", "payouts/po_1Abc"),
        ("evt_1Abc", "events/evt_1Abc"),
        ("acct_1Abc", "connect/accounts/acct_1Abc"),
        ("issfr_1Abc", "search?query=issfr_1Abc"),
    ],
)
def test_each_kind_opens_its_dashboard_page(object_id: str, path: str) -> None:
    assert dashboard_url(object_id, livemode=True) == f"{BASE}/{path}"
    assert dashboard_url(object_id, livemode=False) == f"{BASE}/test/{path}"
    assert (
        dashboard_url(object_id, livemode=True, account=ACCT) == f"{BASE}/{ACCT}/{path}"
    )
    assert (
        dashboard_url(object_id, livemode=False, account=ACCT)
        == f"{BASE}/{ACCT}/test/{path}"
    )


@pytest.mark.parametrize("account", ["acct_", "acct_1/../x", "cus_1", "", "acct_1 x"])
def test_an_account_that_is_no_account_id_never_enters_the_url(account: str) -> None:
    assert dashboard_url("pi_3Abc", livemode=True, account=account) == (
        f"{BASE}/payments/pi_3Abc"
    )


def test_an_id_cannot_break_out_of_its_path() -> None:
    url = dashboard_url("pi_1/../../x?y", livemode=True)
    assert url == f"{BASE}/payments/pi_1%2F..%2F..%2Fx%3Fy"


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def open_in_stripe(blocks: list[dict[str, Any]]) -> str:
    (button,) = [b for b in buttons(blocks) if b["action_id"] == OPEN_IN_STRIPE_ACTION]
    assert button["text"]["text"] == "Open in Stripe"
    return str(button["url"])


@pytest.mark.parametrize(
    ("event_type", "obj", "path"),
    [
        ("charge.succeeded", charge(id="ch_3Live"), "payments/ch_3Live"),
        ("refund.created", refund(id="re_3Live"), "refunds/re_3Live"),
        ("payout.failed", payout(id="po_1Live"), "payouts/po_1Live"),
        ("charge.dispute.created", dispute(id="dp_1Live"), "disputes/dp_1Live"),
        # A warning has no page of its own: its charge's payment page.
        (
            "radar.early_fraud_warning.created",
            early_fraud_warning(id="issfr_1Live", charge="ch_3Efw"),
            "payments/ch_3Efw",
        ),
    ],
)
def test_every_alert_has_an_open_in_stripe_button(
    event_type: str, obj: dict[str, Any], path: str
) -> None:
    live = build_alert(event(event_type, obj, livemode=True), now=0, key_live=True)
    assert live is not None
    assert open_in_stripe(live.blocks) == f"{BASE}/{path}"
    test = build_alert(event(event_type, obj), now=0, key_live=False)
    assert test is not None
    assert open_in_stripe(test.blocks) == f"{BASE}/test/{path}"
    connect = build_alert(event(event_type, obj, account=ACCT), now=0, key_live=False)
    assert connect is not None
    assert open_in_stripe(connect.blocks) == f"{BASE}/{ACCT}/test/{path}"


def test_a_test_mode_alert_says_so_and_a_live_one_does_not() -> None:
    test = build_alert(event("charge.succeeded", charge()), now=0, key_live=False)
    live = build_alert(
        event("charge.succeeded", charge(livemode=True), livemode=True),
        now=0,
        key_live=True,
    )
    assert test is not None
    assert live is not None
    assert "Test mode" in json.dumps(test.blocks)
    assert "Test mode" not in json.dumps(live.blocks)
    assert "cannot act on it" not in json.dumps(test.blocks + live.blocks)


@pytest.mark.parametrize(
    ("livemode", "key_live", "said"),
    [
        (True, False, "*live-mode* object, and stripe-ops runs with a test-mode key"),
        (False, True, "*test-mode* object, and stripe-ops runs with a live-mode key"),
    ],
)
def test_an_event_in_the_other_mode_than_the_key_says_so(
    livemode: bool, key_live: bool, said: str
) -> None:
    evt = event("charge.succeeded", charge(livemode=livemode), livemode=livemode)
    alert = build_alert(evt, now=0, key_live=key_live)
    assert alert is not None
    shown = json.dumps(alert.blocks)
    assert said in shown
    # Only the link: nothing on it would call Stripe.
    assert [b["action_id"] for b in buttons(alert.blocks)] == [OPEN_IN_STRIPE_ACTION]


def test_a_connect_alert_names_the_account_and_links_within_it() -> None:
    obj = charge(id="ch_3Conn", customer="cus_Conn", payment_intent="pi_3Conn")
    evt = event("charge.succeeded", obj, account=ACCT)
    named = build_alert(evt, now=0, key_live=False, account_name="<Bob's> & Shop")
    assert named is not None
    shown = json.dumps(named.blocks)
    assert "Connected account *&lt;Bob's&gt; &amp; Shop*" in shown
    assert f"<{BASE}/test/connect/accounts/{ACCT}|{ACCT}>" in shown
    assert f"{BASE}/{ACCT}/test/customers/cus_Conn" in shown
    assert f"{BASE}/{ACCT}/test/payments/pi_3Conn" in shown
    assert f"{BASE}/test/payments/" not in shown  # nothing on the platform
    assert "account &lt;Bob's&gt; &amp; Shop" in named.summary  # digest line
    unnamed = build_alert(evt, now=0, key_live=False)
    assert unnamed is not None
    assert f"Connected account <{BASE}/test/connect/accounts/{ACCT}|{ACCT}>" in (
        json.dumps(unnamed.blocks)
    )
    assert f"account `{ACCT}`" in unnamed.summary


def test_an_account_field_that_is_no_account_id_is_ignored() -> None:
    evt = event("charge.succeeded", charge(id="ch_3X"), account="acct_1/../../x")
    alert = build_alert(evt, now=0, key_live=False)
    assert alert is not None
    assert open_in_stripe(alert.blocks) == f"{BASE}/test/payments/ch_3X"
    assert "Connected account" not in json.dumps(alert.blocks)


def test_place_links_where_the_object_lives() -> None:
    where = Place(livemode=False, account=ACCT)
    assert where.link("re_1") == f"<{BASE}/{ACCT}/test/refunds/re_1|re_1>"
