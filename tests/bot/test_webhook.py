"""Stripe webhook intake: verify, store, then 200; alerts once per event."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import time
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlmodel import col

from bot.config import Settings
from bot.deps import Deps
from bot.event_router import EventContext
from bot.server import ROUTER, Options
from simulators.slack import FakeSlack
from storage.models import OutboxMessage, StripeEvent
from tests.conftest import FAST, AppFactory
from tests.settle import settled
from tests.support import (
    GROUP_CHANNEL,
    WEBHOOK_SECRET,
    WEBHOOK_SECRET_NEXT,
    charge,
    event,
    signed,
)

Client = TestClient[Any, Any]


async def post_event(client: Client, evt: dict[str, Any], **sign: Any) -> Any:
    body, headers = signed(evt, **sign)
    return await client.post("/stripe/webhook", data=body, headers=headers)


async def stored_count(deps: Deps) -> int:
    async with deps.sessions() as session:
        return int(await session.scalar(select(func.count(col(StripeEvent.id)))) or 0)


def posts_mentioning(fake_slack: FakeSlack, needle: str) -> list[Any]:
    return [
        call
        for call in fake_slack.calls_to("chat.postMessage")
        if needle in json.dumps(call.args)
    ]


async def test_dispute_created_alerts_once_in_disputes_channel(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    evt = event("charge.dispute.created")
    resp = await post_event(client, evt)
    assert resp.status == 200
    (call,) = await fake_slack.wait_for_calls("chat.postMessage", 1)
    assert call.args["channel"] == "CDISPUTES"
    assert evt["data"]["object"]["id"] in json.dumps(call.args)

    again = await post_event(client, evt)
    assert again.status == 200
    assert (await again.json())["duplicate"] is True
    await settled(deps, fake_slack)  # a wrong second alert would be out by now
    dispute_id = evt["data"]["object"]["id"]
    assert len(posts_mentioning(fake_slack, dispute_id)) == 1
    assert await stored_count(deps) == 1


@pytest.mark.parametrize("event_type", sorted(GROUP_CHANNEL))
async def test_every_recommended_type_alerts_once_in_its_channel(
    client: Client, fake_slack: FakeSlack, event_type: str
) -> None:
    evt = event(event_type)
    assert (await post_event(client, evt)).status == 200
    (call,) = await fake_slack.wait_for_calls("chat.postMessage", 1)
    assert call.args["channel"] == GROUP_CHANNEL[event_type]
    posted = json.dumps(call.args)
    assert evt["data"]["object"]["id"] in posted


async def test_racing_deliveries_of_one_event_store_and_alert_once(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    evt = event("charge.succeeded")
    responses = await asyncio.gather(*(post_event(client, evt) for _ in range(20)))
    assert [r.status for r in responses] == [200] * 20
    duplicates = [(await r.json())["duplicate"] for r in responses]
    assert duplicates.count(False) == 1
    await fake_slack.wait_for_calls("chat.postMessage", 1)
    await settled(deps, fake_slack)
    assert len(posts_mentioning(fake_slack, evt["id"])) == 1
    assert await stored_count(deps) == 1


@pytest.mark.parametrize(
    ("label", "mangle"),
    [
        ("tampered body", lambda body, h: (body.replace(b"2000", b"9000"), h)),
        ("no header", lambda body, h: (body, {})),
        (
            "wrong secret",
            lambda body, h: (body, {"Stripe-Signature": "t=1,v1=" + "0" * 64}),
        ),
        ("garbage header", lambda body, h: (body, {"Stripe-Signature": "nonsense"})),
    ],
)
async def test_bad_signatures_get_400_and_store_nothing(
    client: Client, fake_slack: FakeSlack, deps: Deps, label: str, mangle: Any
) -> None:
    body, headers = signed(event("charge.succeeded"))
    body, headers = mangle(body, headers)
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 400, label
    assert await stored_count(deps) == 0
    await settled(deps, fake_slack)
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_a_non_ascii_signature_gets_400_not_500(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    # stripe-python's compare raised TypeError on it, which became a 500
    # (and Stripe retries a 500 for days).
    body, headers = signed(event("charge.succeeded"))
    t, v1 = headers["Stripe-Signature"].split(",")
    headers["Stripe-Signature"] = f"{t},v1=\u00e9{v1[4:]}"
    resp = await client.post("/stripe/webhook", data=body, headers=headers)
    assert resp.status == 400
    assert "Stripe-Signature" in (await resp.json())["error"]
    assert await stored_count(deps) == 0


async def test_a_signature_older_than_five_minutes_is_refused(
    client: Client, deps: Deps
) -> None:
    stale = int(time.time()) - 301
    resp = await post_event(client, event("charge.succeeded"), timestamp=stale)
    assert resp.status == 400
    fresh = int(time.time()) - 200
    resp = await post_event(client, event("charge.succeeded"), timestamp=fresh)
    assert resp.status == 200
    assert await stored_count(deps) == 1


async def test_the_second_secret_verifies_during_rotation(
    client: Client, fake_slack: FakeSlack
) -> None:
    resp = await post_event(client, event("payout.paid"), secret=WEBHOOK_SECRET_NEXT)
    assert resp.status == 200
    await fake_slack.wait_for_calls("chat.postMessage", 1)


async def test_a_signed_body_that_is_not_an_event_is_refused(
    client: Client, deps: Deps
) -> None:
    import stripe

    from tests.support import WEBHOOK_SECRET

    payload = '{"hello": "world"}'
    header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    resp = await client.post(
        "/stripe/webhook", data=payload, headers={"Stripe-Signature": header}
    )
    assert resp.status == 400
    assert await stored_count(deps) == 0


async def test_unknown_types_are_stored_and_acknowledged_not_alerted(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    evt = event("customer.created", {"id": "cus_X", "object": "customer"})
    resp = await post_event(client, evt)
    assert resp.status == 200
    assert await stored_count(deps) == 1

    await settled(deps, fake_slack)
    async with deps.sessions() as session:
        row = await session.get(StripeEvent, evt["id"])
    assert row is not None
    assert row.status == "processed"
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_stripe_text_is_escaped_so_nobody_is_pinged(
    client: Client, fake_slack: FakeSlack
) -> None:
    obj = charge(
        billing_details={"name": "<!channel>", "email": "a&b@example.com"},
        description="<https://evil.example|click me>",
    )
    await post_event(client, event("charge.succeeded", obj))
    (call,) = await fake_slack.wait_for_calls("chat.postMessage", 1)
    posted = json.dumps(call.args)
    assert "<!channel>" not in posted
    assert "&lt;!channel&gt;" in posted
    assert "<https://evil.example" not in posted


async def test_alert_names_amount_in_major_units_with_currency(
    client: Client, fake_slack: FakeSlack
) -> None:
    await post_event(client, event("charge.succeeded", charge(amount=1250)))
    await post_event(
        client, event("charge.succeeded", charge(amount=5000, currency="jpy"))
    )
    await post_event(
        client, event("charge.succeeded", charge(amount=1250, currency="kwd"))
    )
    calls = await fake_slack.wait_for_calls("chat.postMessage", 3)
    posted = json.dumps([c.args for c in calls])
    assert "12.50 USD" in posted
    assert "5,000 JPY" in posted
    assert "1.250 KWD" in posted


async def test_outbox_row_is_written_before_slack_is_called(
    client: Client, fake_slack: FakeSlack, deps: Deps
) -> None:
    await fake_slack.go_down()
    evt = event("payout.failed")
    assert (await post_event(client, evt)).status == 200
    for _ in range(100):
        async with deps.sessions() as session:
            row = (
                await session.execute(
                    select(OutboxMessage).where(
                        col(OutboxMessage.key) == f"alert:{evt['id']}"
                    )
                )
            ).scalar_one_or_none()
        if row is not None:
            break
        await asyncio.sleep(0.05)
    assert row is not None
    assert row.status == "pending"
    await fake_slack.come_back()
    await fake_slack.wait_for_calls("chat.postMessage", 1, timeout=15)


async def test_a_processing_backlog_does_not_hold_back_the_next_200(
    settings: Settings, start_app: AppFactory
) -> None:
    """Stripe's 200 waits only for its own commit: an event transaction that
    runs long gives way as soon as a delivery is waiting (on SQLite both need
    the one writer), however much of the backlog is left."""
    policy = replace(FAST, batch_seconds=60.0, yield_after_seconds=0.0)
    client = await start_app(settings, Options(policy=policy))
    processed: list[str] = []

    async def slow_handler(ctx: EventContext) -> None:
        await asyncio.sleep(0.05)  # inside the event's transaction
        processed.append(ctx.id)

    client.app[ROUTER].add("customer.updated", slow_handler)
    backlog = [
        event("customer.updated", {"id": f"cus_{i}", "object": "customer"})
        for i in range(10)
    ]
    acks = await asyncio.gather(*(post_event(client, e) for e in backlog))
    assert [r.status for r in acks] == [200] * 10
    while not processed:  # the worker is inside its round
        await asyncio.sleep(0.005)

    probe = event("customer.updated", {"id": "cus_p", "object": "customer"})
    resp = await post_event(client, probe)

    assert resp.status == 200
    assert len(processed) < len(backlog), "the 200 waited for the whole backlog"
    # Nothing is skipped or done twice for giving way.
    everything = sorted(e["id"] for e in [*backlog, probe])
    deadline = time.monotonic() + 10
    while len(processed) < len(everything) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert sorted(processed) == everything


# -- bodies that are not a Stripe event ------------------------------------------


def _sign_raw(payload: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    """Stripe's v1 signature over the exact bytes (whatever they are)."""
    ts = int(time.time())
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256)
    return {
        "Stripe-Signature": f"t={ts},v1={mac.hexdigest()}",
        "Content-Type": "application/json",
    }


def _with(**changes: Any) -> bytes:
    """A good event with top-level keys replaced (None: removed)."""
    evt = event("charge.succeeded")
    for key, value in changes.items():
        if value is None:
            evt.pop(key)
        else:
            evt[key] = value
    return json.dumps(evt).encode()


def _good() -> str:
    return json.dumps(event("charge.succeeded"))


_DEEP = 100_000  # nesting past Python's recursion limit, well under 1 MB

NOT_EVENTS: list[tuple[str, Any, str]] = [
    (
        "latin-1 byte",
        lambda: _good().replace('"event"', '"\xe9vent"').encode("latin-1"),
        "UTF-8",
    ),
    ("UTF-16", lambda: _good().encode("utf-16"), "UTF-8"),
    ("UTF-8 with a BOM", lambda: b"\xef\xbb\xbf" + _good().encode(), "not JSON"),
    ("not JSON", lambda: b"hello", "not JSON"),
    ("a JSON array", lambda: b"[]", "not a JSON object"),
    ("a JSON string", lambda: b'"evt_1"', "not a JSON object"),
    (
        "nested too deep",
        lambda: (
            b'{"id": "evt_1", "type": "x.y", "data": {"object": '
            + b"[" * _DEEP
            + b"]" * _DEEP
            + b"}}"
        ),
        "not JSON",
    ),
    ("no id", lambda: _with(id=None), "`id`"),
    ("numeric id", lambda: _with(id=123), "`id`"),
    ("null id", lambda: _with(id=False), "`id`"),
    ("id with a NUL", lambda: _with(id="evt_1\u0000"), "`id`"),
    ("id too long", lambda: _with(id="evt_" + "a" * 300), "`id`"),
    ("no type", lambda: _with(type=None), "`type`"),
    ("type not a string", lambda: _with(type=["charge.succeeded"]), "`type`"),
    ("type with a NUL", lambda: _with(type="charge.\u0000"), "`type`"),
    (
        "object id with a NUL",
        lambda: _with(data={"object": {"id": "ch_\u0000", "object": "charge"}}),
        "`data.object.id`",
    ),
    ("created a string", lambda: _with(created="yesterday"), "`created`"),
    ("created too big", lambda: _with(created=10**30), "`created`"),
    (
        "created infinite",
        lambda: _good().replace('"created": ', '"created": 1e999, "x": ').encode(),
        "`created`",
    ),
]


@pytest.mark.parametrize(
    ("label", "body", "says"), NOT_EVENTS, ids=[c[0] for c in NOT_EVENTS]
)
async def test_a_signed_body_that_is_not_a_stripe_event_gets_400_saying_why(
    client: Client, deps: Deps, label: str, body: Any, says: str
) -> None:
    payload: bytes = body()
    resp = await client.post(
        "/stripe/webhook", data=payload, headers=_sign_raw(payload)
    )
    assert resp.status == 400, (label, await resp.text())
    assert says in (await resp.json())["error"]
    assert await stored_count(deps) == 0
    # The endpoint still takes the next good delivery.
    assert (await post_event(client, event("charge.succeeded"))).status == 200


async def test_a_body_over_one_megabyte_gets_413_and_is_not_stored(
    client: Client, deps: Deps
) -> None:
    evt = event("charge.succeeded", charge(description="x" * (1024**2 + 1)))
    body, headers = signed(evt)
    resp = await client.post("/stripe/webhook", data=io.BytesIO(body), headers=headers)
    assert resp.status == 413
    assert "exceeded" in await resp.text()
    assert await stored_count(deps) == 0
