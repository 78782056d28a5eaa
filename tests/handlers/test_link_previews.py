"""Link previews: a signed link_shared event in, the fake Stripe read, chat.unfurl
out; for support people only, on both databases."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.deps import Deps
from bot.link_previews import parse_link
from simulators.slack import FakeSlack
from simulators.slack_requests import event_callback_body
from simulators.stripe import FakeStripe
from tests.handlers.helpers import Client, eventually, post_signed
from tests.support import STRIPE_KEY

Json = dict[str, Any]
AGENT = "U_AGENT"
OUTSIDER = "U_OUTSIDER"
ENTERPRISE_ID = "E0GRID"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"SUPPORT_USER_IDS": AGENT}


def link_shared(
    urls: list[str],
    *,
    user_id: str = AGENT,
    source: str = "conversations_history",
    shared_with_others: bool = False,
) -> str:
    """The Events API body Slack sends when `urls` are pasted in a message,
    from an Enterprise Grid workspace (the grid fields included)."""
    ts = f"{time.time():.6f}"
    composer = source == "composer"
    event = {
        "type": "link_shared",
        # A message still being written has no channel or ts yet.
        "channel": "COMPOSER" if composer else "C_SUPPORT",
        "is_bot_user_member": True,
        "user": user_id,
        "message_ts": f"{user_id}-{ts}" if composer else ts,
        "unfurl_id": f"C_SUPPORT.{ts}.1b90fa1278528ce6e2f6c5c2bfa1abc9a41d57d0",
        "source": source,
        "links": [{"domain": "dashboard.stripe.com", "url": url} for url in urls],
        "event_ts": ts,
    }
    body = json.loads(event_callback_body(event=event))
    body["enterprise_id"] = ENTERPRISE_ID
    body["context_team_id"] = body["team_id"]
    body["context_enterprise_id"] = ENTERPRISE_ID
    body["authorizations"][0]["enterprise_id"] = ENTERPRISE_ID
    body["is_ext_shared_channel"] = shared_with_others
    return json.dumps(body)


async def unfurled(fake_slack: FakeSlack, count: int = 1) -> list[Json]:
    """The first `count` chat.unfurl calls Slack accepted, once made."""
    await eventually(
        lambda: len(fake_slack.unfurls) >= count, what=f"{count} chat.unfurl"
    )
    return fake_slack.unfurls[:count]


def shown(unfurl: Json) -> str:
    return json.dumps(unfurl, ensure_ascii=False)


def seed(fake_stripe: FakeStripe) -> dict[str, Json]:
    customer = fake_stripe.add_customer(
        email="jenny@example.com", name="Jenny <!channel> Rosen"
    )
    pi, charge = fake_stripe.add_payment(
        customer_id=customer["id"], amount=5000, currency="jpy"
    )
    _, disputed = fake_stripe.add_payment(customer_id=customer["id"], amount=2500)
    dispute = fake_stripe.add_dispute(
        disputed["id"], reason="fraudulent", due_by=int(time.time()) + 3 * 86400
    )
    payout = fake_stripe.add_payout(amount=110000, status="paid")
    return {
        "customer": customer,
        "pi": pi,
        "charge": charge,
        "dispute": dispute,
        "payout": payout,
    }


async def test_each_kind_of_object_unfurls_into_a_preview(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    objects = seed(fake_stripe)
    refund = await deps.stripe.v1.refunds.create_async(
        {"charge": objects["charge"]["id"], "amount": 1000, "reason": "duplicate"}
    )
    base = "https://dashboard.stripe.com/test"
    expected = {
        f"{base}/payments/{objects['pi']['id']}": [
            "Payment",
            "Succeeded",
            "5,000 JPY",
            "jenny@example.com",
            "Refunded: 1,000 JPY",
        ],
        f"{base}/payments/{objects['charge']['id']}": ["Charge", "5,000 JPY"],
        f"{base}/customers/{objects['customer']['id']}": [
            "Customer",
            "jenny@example.com",
        ],
        f"{base}/disputes/{objects['dispute']['id']}": [
            "Dispute",
            "Needs response",
            "25.00 USD",
            "Reason: fraudulent",
            "Respond by <!date^",
            "in 3 days",
            "jenny@example.com",
        ],
        f"{base}/refunds/{refund.id}": [
            "Refund",
            "Succeeded",
            "1,000 JPY",
            "Reason: duplicate",
        ],
        f"{base}/payouts/{objects['payout']['id']}": [
            "Payout",
            "Paid",
            "1,100.00 USD",
            "Arrives: <!date^",
        ],
    }
    urls = list(expected)
    # Slack sends at most five links per event: two events.
    await post_signed(client, link_shared(urls[:3]))
    await post_signed(client, link_shared(urls[3:], source="composer"))
    first, second = await unfurled(fake_slack, 2)
    assert first["source"] == "conversations_history"
    assert first["unfurl_id"]
    assert second["source"] == "composer"
    assert second["unfurl_id"]
    previews = {**first["unfurls"], **second["unfurls"]}
    assert sorted(previews) == sorted(urls)
    for url, needles in expected.items():
        text = shown(previews[url])
        for needle in needles:
            assert needle in text, (url, needle, text)
        assert "Test mode" in text
    # Stripe text is escaped: a customer named `<!channel>` pings nobody.
    customer_text = shown(previews[urls[2]])
    assert "<!channel>" not in customer_text
    assert "&lt;!channel&gt;" in customer_text
    # Nothing was said to anyone besides.
    assert fake_slack.calls_to("chat.postEphemeral") == []


async def test_live_and_connect_links_unfurl_with_the_connected_account(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    platform_pi = seed(fake_stripe)["pi"]["id"]
    account = fake_stripe.add_connected_account(name="Connected Shop")["id"]
    with fake_stripe.on_account(account):
        shopper = fake_stripe.add_customer(email="sam@example.com", name="Sam")
        pi, _ = fake_stripe.add_payment(
            customer_id=shopper["id"], amount=1200, currency="eur"
        )
    urls = [
        f"https://dashboard.stripe.com/payments/{platform_pi}",
        f"https://dashboard.stripe.com/{account}/payments/{pi['id']}",
        f"https://dashboard.stripe.com/{account}/test/payments/{pi['id']}?status=ok#x",
        f"https://dashboard.stripe.com/test/{account}/payments/{pi['id']}",
    ]
    await post_signed(client, link_shared(urls))
    (call,) = await unfurled(fake_slack)
    assert sorted(call["unfurls"]) == sorted(urls)
    platform_reads = fake_stripe.requests_to(
        "GET", f"/v1/payment_intents/{platform_pi}"
    )
    assert [r.headers.get("Stripe-Account") for r in platform_reads] == [None]
    # The connected account's payment is read in its account, each time.
    reads = fake_stripe.requests_to("GET", f"/v1/payment_intents/{pi['id']}")
    assert [r.headers.get("Stripe-Account") for r in reads] == [account] * 3
    assert account in shown(call["unfurls"][urls[1]])
    assert "12.00" in shown(call["unfurls"][urls[1]])
    assert account not in shown(call["unfurls"][urls[0]])


async def test_an_outsider_gets_no_preview_and_stripe_is_not_asked(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    objects = seed(fake_stripe)
    secret = f"https://dashboard.stripe.com/test/customers/{objects['customer']['id']}"
    agents = f"https://dashboard.stripe.com/test/payments/{objects['pi']['id']}"
    resp = await post_signed(client, link_shared([secret], user_id=OUTSIDER))
    assert await resp.text() == ""
    # The agent's link afterwards: once it is unfurled, the outsider's would
    # have been too (both are read the same way).
    await post_signed(client, link_shared([agents]))
    (call,) = await unfurled(fake_slack)
    assert list(call["unfurls"]) == [agents]
    assert fake_stripe.requests_to("GET", "/v1/customers") == []
    assert len(fake_slack.unfurls) == 1
    assert fake_slack.calls_to("chat.postEphemeral") == []
    assert [
        c.args.get("channel") for c in fake_slack.calls_to("chat.postMessage")
    ] == []


async def test_no_preview_in_a_channel_shared_with_other_organisations(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    objects = seed(fake_stripe)
    customer = (
        f"https://dashboard.stripe.com/test/customers/{objects['customer']['id']}"
    )
    payment = f"https://dashboard.stripe.com/test/payments/{objects['pi']['id']}"
    await post_signed(client, link_shared([customer], shared_with_others=True))
    await post_signed(client, link_shared([payment]))
    (call,) = await unfurled(fake_slack)
    assert list(call["unfurls"]) == [payment]
    assert fake_stripe.requests_to("GET", "/v1/customers") == []
    assert len(fake_slack.unfurls) == 1


async def test_unknown_objects_and_other_pages_unfurl_nothing(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    objects = seed(fake_stripe)
    known = f"https://dashboard.stripe.com/test/payments/{objects['pi']['id']}"
    urls = [
        "https://dashboard.stripe.com/test/payments/pi_doesnotexist",
        "https://dashboard.stripe.com/test/disputes/dp_doesnotexist",
        "https://dashboard.stripe.com/settings/billing",
        known,
    ]
    await post_signed(client, link_shared(urls))
    (call,) = await unfurled(fake_slack)
    assert list(call["unfurls"]) == [known]
    assert fake_stripe.requests_to("GET", "/v1/payment_intents/pi_doesnotexist")
    assert fake_slack.calls_to("chat.postEphemeral") == []
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_a_key_without_the_permission_says_which_in_the_preview(
    client: Client, fake_slack: FakeSlack, fake_stripe: FakeStripe, deps: Deps
) -> None:
    payout = fake_stripe.add_payout(amount=5000)
    # The restricted key the README asks for: no Payouts permission.
    fake_stripe.api_keys[STRIPE_KEY] = frozenset(
        {
            "rak_charge_read",
            "rak_payment_intent_read",
            "rak_customer_read",
            "rak_dispute_write",
            "rak_refund_write",
        }
    )
    url = f"https://dashboard.stripe.com/test/payouts/{payout['id']}"
    await post_signed(client, link_shared([url]))
    (call,) = await unfurled(fake_slack)
    text = shown(call["unfurls"][url])
    assert "rak_payout_read" in text
    assert "50.00" not in text


@pytest.mark.parametrize(
    ("url", "object_id", "test", "account"),
    [
        ("https://dashboard.stripe.com/payments/pi_1", "pi_1", False, None),
        ("https://dashboard.stripe.com/test/payments/py_1", "py_1", True, None),
        ("https://dashboard.stripe.com/acct_9/disputes/du_1", "du_1", False, "acct_9"),
        ("https://DASHBOARD.stripe.com/test/refunds/re_1", "re_1", True, None),
        ("https://dashboard.stripe.com/test/payouts/po_1/", "po_1", True, None),
        ("https://dashboard.stripe.com/payments", None, False, None),
        ("https://dashboard.stripe.com/test/test/payments/pi_1", "pi_1", True, None),
        ("https://dashboard.stripe.com/acct_1/acct_2/payments/pi_1", None, 0, 0),
        ("http://dashboard.stripe.com/payments/pi_1", None, 0, 0),
        ("https://dashboard.stripe.com.evil.example/payments/pi_1", None, 0, 0),
        ("https://dashboard.stripe.com/customers/evt_1", None, 0, 0),
        ("https://dashboard.stripe.com/payments/pi_1/refunds", None, 0, 0),
    ],
)
def test_which_links_are_dashboard_objects(
    url: str, object_id: str | None, test: bool, account: str | None
) -> None:
    link = parse_link(url)
    if object_id is None:
        assert link is None
        return
    assert link is not None
    assert (link.object_id, link.test, link.account) == (object_id, test, account)
