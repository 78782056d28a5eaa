"""The fake Stripe API through a real ``stripe.StripeClient`` (expanded: ``Any``)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import stripe

from simulators.stripe import FakeStripe

READ_ONLY_KEY = "rk_test_readonlyxyz"
READ_ONLY = frozenset({"rak_charge_read", "rak_refund_read"})
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    server = FakeStripe(api_keys={"sk_test_fake": None, READ_ONLY_KEY: READ_ONLY})
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[stripe.AIOHTTPClient]:
    client = stripe.AIOHTTPClient()
    yield client
    await client.close_async()  # type: ignore[no-untyped-call]


def make_client(
    fake: FakeStripe, http: stripe.AIOHTTPClient, key: str = "sk_test_fake"
) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": fake.url, "files": fake.url},
        http_client=http,
        max_network_retries=2,
    )


@pytest.fixture
def client(fake: FakeStripe, http: stripe.AIOHTTPClient) -> stripe.StripeClient:
    return make_client(fake, http)


@pytest.fixture
def demo(fake: FakeStripe) -> dict[str, Any]:
    return fake.seed_demo()


async def refund_error(
    client: stripe.StripeClient, params: Any, key: str
) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        await client.v1.refunds.create_async(params, {"idempotency_key": key})
    return info.value


async def test_seeded_objects_retrieve_list_and_search(
    fake: FakeStripe, client: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    cus_id, (usd, jpy) = demo["customer"], demo["payments"]
    expand_pm: Any = {"expand": ["invoice_settings.default_payment_method"]}
    customer: Any = await client.v1.customers.retrieve_async(cus_id, expand_pm)
    assert customer.email == "jenny@example.com"
    assert customer.invoice_settings.default_payment_method.card.last4 == "4242"
    listed = await client.v1.customers.list_async({"email": "jenny@example.com"})
    assert [c.id for c in listed.data] == [cus_id]
    # The list filter is case-sensitive, like Stripe's; search is not.
    upper = "JENNY@example.com"
    assert not (await client.v1.customers.list_async({"email": upper})).data
    found: Any = await client.v1.customers.search_async({"query": f"email:'{upper}'"})
    assert found.object == "search_result"
    assert [c.id for c in found.data] == [cus_id]
    pis: Any = await client.v1.payment_intents.list_async(
        {"customer": cus_id, "expand": ["data.latest_charge"]}
    )
    newest_first = [jpy["charge"], usd["charge"], demo["disputed_payment"]["charge"]]
    assert [pi.latest_charge.id for pi in pis.data] == newest_first
    expand = ["latest_charge", "customer"]
    usd_pi: Any = await client.v1.payment_intents.retrieve_async(
        usd["payment_intent"], {"expand": expand}
    )
    assert usd_pi.latest_charge.amount == 1200
    assert usd_pi.customer.name == "Jenny Rosen"
    methods = await client.v1.customers.payment_methods.list_async(cus_id)
    assert [pm.id for pm in methods.data] == [demo["payment_method"]]
    request = fake.requests_to("GET", "/v1/payment_intents/")[0]
    assert request.params == {"expand": expand}
    assert request.api_key == "sk_test_fake"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.charges.retrieve_async("ch_missing")
    assert missing.value.code == "resource_missing"
    assert missing.value.user_message == "No such charge: 'ch_missing'"


async def test_refunds_partial_full_and_refusals(
    fake: FakeStripe, client: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    charge_id = demo["payments"][0]["charge"]
    partial: Any = await client.v1.refunds.create_async(
        {"charge": charge_id, "amount": 500, "metadata": {"ticket": "T-1"}}
    )
    assert (partial.amount, partial.currency) == (500, "usd")
    assert partial.status == "succeeded"
    assert partial.metadata.to_dict() == {"ticket": "T-1"}
    assert len(partial.destination_details.card.reference) == 23

    err = await refund_error(client, {"charge": charge_id, "amount": 800}, "a")
    assert [err.code, err.param] == ["amount_too_large", "amount"]
    assert err.user_message == (
        "Refund amount ($8.00) is greater than unrefunded amount on charge ($7.00)"
    )
    err = await refund_error(client, {"charge": charge_id, "reason": "oops"}, "b")
    assert err.param == "reason"

    rest = await client.v1.refunds.create_async(
        {"payment_intent": demo["payments"][0]["payment_intent"]}
    )
    assert [rest.amount, rest.charge] == [700, charge_id]
    charge = await client.v1.charges.retrieve_async(charge_id)
    assert [charge.amount_refunded, charge.refunded] == [1200, True]
    err = await refund_error(client, {"charge": charge_id}, "c")
    assert err.code == "charge_already_refunded"
    assert err.user_message == f"Charge {charge_id} has already been refunded."
    disputed = demo["disputed_payment"]["charge"]
    err = await refund_error(client, {"charge": disputed}, "d")
    assert err.code == "charge_disputed"
    assert err.user_message == (
        f"Charge {disputed} has been charged back; cannot issue a refund."
    )

    jpy_charge = demo["payments"][1]["charge"]
    err = await refund_error(client, {"charge": jpy_charge, "amount": 5001}, "e")
    assert err.user_message == (
        "Refund amount (¥5,001) is greater than unrefunded amount on charge (¥5,000)"
    )
    assert (await client.v1.refunds.create_async({"charge": jpy_charge})).amount == 5000
    assert [r["amount"] for r in fake.refunds] == [500, 700, 5000]
    listed = await client.v1.refunds.list_async({"charge": charge_id})
    assert [r.id for r in listed.data] == [rest.id, partial.id]


async def test_idempotent_replay_mismatch_and_concurrency(
    fake: FakeStripe, client: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    charge_id = demo["payments"][0]["charge"]
    params: Any = {"charge": charge_id, "amount": 100}
    first = await client.v1.refunds.create_async(params, {"idempotency_key": "k-1"})
    second = await client.v1.refunds.create_async(params, {"idempotency_key": "k-1"})
    assert second.id == first.id
    assert second.last_response is not None
    assert first.last_response is not None
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert second.last_response.body == first.last_response.body
    assert len(fake.refunds) == 1

    with pytest.raises(stripe.IdempotencyError, match="'k-1'"):
        await client.v1.refunds.create_async(
            {"charge": charge_id, "amount": 200}, {"idempotency_key": "k-1"}
        )
    # Errors are replayed too, byte for byte.
    over: Any = {"charge": charge_id, "amount": 5000}
    errors = [await refund_error(client, over, "k-2") for _ in range(2)]
    assert errors[0].http_body == errors[1].http_body

    fake.latency = 0.05
    small: Any = {"charge": charge_id, "amount": 50}
    create = client.v1.refunds.create_async
    results = await asyncio.gather(
        *(create(small, {"idempotency_key": "k-3"}) for _ in range(20))
    )
    assert len({r.id for r in results}) == 1
    assert len(fake.refunds) == 2
    assert fake.object(charge_id)["amount_refunded"] == 150


async def test_injected_failures_and_retries(
    fake: FakeStripe, client: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    charge_id = demo["payments"][0]["charge"]
    fake.fail_next("POST", "/v1/refunds", status=500, after_execute=True)
    refund = await client.v1.refunds.create_async({"charge": charge_id, "amount": 100})
    # The first answer was lost after the refund happened; the retry with the same
    # (generated) idempotency key got the replay, so there is still one refund.
    attempts = fake.requests_to("POST", "/v1/refunds")
    assert len(attempts) == 2
    assert attempts[0].idempotency_key == attempts[1].idempotency_key
    assert [r["id"] for r in fake.refunds] == [refund.id]

    fake.fail_next("GET", "/v1/charges", status=402, error={"type": "card_error"})
    with pytest.raises(stripe.CardError):
        await client.v1.charges.retrieve_async(charge_id)


async def test_keys_permissions_and_unknown_routes(
    fake: FakeStripe, http: stripe.AIOHTTPClient, demo: dict[str, Any]
) -> None:
    restricted = make_client(fake, http, READ_ONLY_KEY)
    with pytest.raises(stripe.PermissionError) as denied:
        await restricted.v1.refunds.create_async({"charge": "ch_doesnotexist"})
    assert denied.value.user_message == (
        "The provided key 'rk_test_***xyz' does not have the required permissions "
        "for this endpoint on account 'acct_1FAKE'. Having the 'rak_refund_write' "
        "permission would allow this request to continue."
    )
    assert fake.refunds == []
    charge = await restricted.v1.charges.retrieve_async(demo["payments"][0]["charge"])
    assert charge.amount == 1200
    with pytest.raises(stripe.PermissionError, match="rak_customer_read"):
        await restricted.v1.charges.retrieve_async(charge.id, {"expand": ["customer"]})
    with pytest.raises(stripe.AuthenticationError):
        await make_client(fake, http, "sk_test_wrong").v1.balance.retrieve_async()
    with pytest.raises(stripe.InvalidRequestError, match="Unrecognized request URL"):
        await make_client(fake, http).raw_request_async("get", "/v1/nothing_here")


async def test_dispute_evidence_submit_and_close(
    fake: FakeStripe, client: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    upload = io.BytesIO(b"%PDF-1.4\n% receipt\n")
    upload.name = "receipt.pdf"
    file = await client.v1.files.create_async(
        {"purpose": "dispute_evidence", "file": upload}
    )
    assert [file.type, file.size, file.filename] == ["pdf", 19, "receipt.pdf"]
    assert fake.file_contents(file.id) == b"%PDF-1.4\n% receipt\n"
    assert (await client.v1.files.retrieve_async(file.id)).purpose == "dispute_evidence"

    dispute_id = demo["dispute"]
    evidence: Any = {"customer_name": "Jenny", "receipt": file.id}
    staged = await client.v1.disputes.update_async(
        dispute_id, {"evidence": evidence, "submit": False}
    )
    assert [staged.status, staged.evidence.receipt] == ["needs_response", file.id]
    assert staged.evidence_details.has_evidence is True
    assert fake.requests_to("POST", "/v1/disputes/")[0].params["evidence"] == evidence
    submitted: Any = await client.v1.disputes.update_async(
        dispute_id, {"evidence": {"product_description": "A mug"}, "expand": ["charge"]}
    )
    assert submitted.status == "under_review"
    assert submitted.evidence_details.submission_count == 1
    assert submitted.evidence.customer_name == "Jenny"
    assert submitted.charge.id == demo["disputed_payment"]["charge"]
    with pytest.raises(stripe.InvalidRequestError, match="after submission"):
        await client.v1.disputes.update_async(dispute_id, {"submit": True})
    bogus: Any = {"evidence": {"bogus": "x"}}
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter"):
        await client.v1.disputes.update_async(dispute_id, bogus)

    other = fake.add_dispute(demo["payments"][0]["charge"], reason="fraudulent")
    assert (await client.v1.disputes.list_async({"limit": 1})).has_more is True
    closed = await client.v1.disputes.close_async(other["id"])
    assert closed.status == "lost"
    with pytest.raises(stripe.InvalidRequestError, match="already closed"):
        await client.v1.disputes.close_async(other["id"])


async def test_standalone_process() -> None:
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "simulators.stripe", "--port", "0", "--seed"],
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    try:
        base_line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert base_line.startswith("STRIPE_API_BASE=http://127.0.0.1:")
        base = base_line.strip().split("=", 1)[1]
        ids = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
        path = f"/v1/customers/{ids['customer']}"
        async with aiohttp.ClientSession(base) as session:
            auth = {"Authorization": "Bearer sk_test_fake"}
            async with session.get(path, headers=auth) as resp:
                assert (await resp.json())["email"] == "jenny@example.com"
            async with session.get("/_requests") as resp:
                recorded = await resp.json()
            async with session.get(f"/_objects/{ids['dispute']}") as resp:
                assert (await resp.json())["status"] == "needs_response"
        assert [(r["method"], r["path"], r["params"]) for r in recorded] == [
            ("GET", path, {})
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
