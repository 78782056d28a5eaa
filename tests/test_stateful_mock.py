"""Our refund path against npm's stripe-stateful-mock, a second opinion on Stripe.

The mock keeps charges, refunds and idempotency keys the way Stripe does; the
code under test is `bot.refunds.approve` (a manager's click) and
`bot.refunds.execute_refund` (the retry job and start-up), the two ways the
Stripe refund of an approved request is made, and how they find a refund
Stripe already holds for a request (the charge's refunds, by metadata).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from bot.deps import Deps
from bot.refunds import (
    ATTEMPT_LEASE_SECONDS,
    RefundArgs,
    approve,
    execute_refund,
    request_refund,
)
from storage import refunds as store
from storage.models import RefundRequest
from tests.conftest import make_settings
from tests.handlers.helpers import requests
from tests.process import free_port
from tests.support import STRIPE_KEY

ROOT = Path(__file__).resolve().parent.parent
MOCK = ROOT / "node_modules" / ".bin" / "stripe-stateful-mock"


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    """stripe-stateful-mock on a free loopback port, for this module's tests."""
    if not MOCK.exists():
        reason = f"{MOCK.relative_to(ROOT)} is missing: run `npm ci` (make test does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    port = free_port()
    proc = subprocess.Popen(
        ["node", str(MOCK)],
        env={**os.environ, "PORT": str(port), "LOG_LEVEL": "error"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(_wait_until_up(url, proc))
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


async def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    headers = {"Authorization": f"Bearer {STRIPE_KEY}"}
    deadline = asyncio.get_running_loop().time() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"stripe-stateful-mock exited: {err}")
            try:
                async with session.get(f"{url}/v1/charges", headers=headers) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("stripe-stateful-mock did not answer in 30 s")
            await asyncio.sleep(0.1)


@pytest.fixture
async def mock_deps(db_url: str, mock_url: str) -> AsyncIterator[Deps]:
    settings = make_settings(
        db_url=db_url, slack_url="http://127.0.0.1:9/api/", stripe_url=mock_url
    )
    deps = Deps.create(settings)
    yield deps
    await deps.aclose()


async def mock_post(url: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}{path}",
            data=data,
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
        ) as resp,
    ):
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200, body
        return body


async def mock_get(url: str, path: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{url}{path}", headers={"Authorization": f"Bearer {STRIPE_KEY}"}
        ) as resp,
    ):
        body: dict[str, Any] = await resp.json()
        return body


async def requested(deps: Deps, charge_id: str, amount: str) -> int:
    """A request made through our own code, waiting for a manager."""
    await request_refund(
        deps,
        user_id="U_AGENT",
        channel_id="C_SUPPORT",
        args=RefundArgs(charge_id, amount, "requested_by_customer"),
    )
    request_id = (await requests(deps))[-1].id
    assert request_id is not None
    return request_id


async def approved_then_crashed(deps: Deps, charge_id: str, amount: str) -> int:
    """A request a manager approved; the process died before its Stripe call."""
    request_id = await requested(deps, charge_id, amount)
    async with deps.sessions() as session, session.begin():
        assert await store.approve(
            session,
            request_id=request_id,
            user_id="U_MANAGER",
            now=deps.clock.now(),
            lease=ATTEMPT_LEASE_SECONDS,
        )
    return request_id


async def row(deps: Deps, request_id: int) -> RefundRequest:
    async with deps.sessions() as session:
        found = await store.get_request(session, request_id=request_id)
    assert found is not None
    return found


async def reset_to_approved(deps: Deps, request_id: int, **values: Any) -> None:
    """As if our commit after Stripe's answer never happened (a crash)."""
    async with deps.sessions() as session, session.begin():
        await session.execute(
            update(RefundRequest)
            .where(RefundRequest.id == request_id)  # type: ignore[arg-type]
            .values(
                **{
                    "status": "approved",
                    "refund_id": None,
                    "next_attempt_at": None,
                    **values,
                }
            )
        )


async def charge(mock_url: str, amount: int) -> str:
    created = await mock_post(
        mock_url,
        "/v1/charges",
        {"amount": amount, "currency": "usd", "source": "tok_visa"},
    )
    return str(created["id"])


async def test_a_partial_refund_then_a_lost_commit_found_by_metadata(
    mock_deps: Deps, mock_url: str
) -> None:
    charge_id = await charge(mock_url, 1000)
    request_id = await requested(mock_deps, charge_id, "4.00")

    # A refusal raises (bot.refund_refusals).
    await approve(mock_deps, request_id=request_id, user_id="U_MANAGER")
    first = await row(mock_deps, request_id)
    assert (first.status, first.stripe_attempts) == ("succeeded", 1)
    assert first.refund_id is not None
    refunded = await mock_get(mock_url, f"/v1/charges/{charge_id}")
    assert refunded["amount_refunded"] == 400

    # Our commit is lost; the next attempt finds the refund among the charge's.
    await reset_to_approved(mock_deps, request_id)
    assert await execute_refund(mock_deps, request_id) == "succeeded"
    again = await row(mock_deps, request_id)
    assert again.refund_id == first.refund_id
    refunds = await mock_get(mock_url, f"/v1/refunds?charge={charge_id}")
    assert [r["id"] for r in refunds["data"]] == [first.refund_id]
    assert (await mock_get(mock_url, f"/v1/charges/{charge_id}"))[
        "amount_refunded"
    ] == 400


async def test_an_over_refund_fails_the_request_with_stripes_words(
    mock_deps: Deps, mock_url: str
) -> None:
    charge_id = await charge(mock_url, 1000)
    request_id = await approved_then_crashed(mock_deps, charge_id, "10.00")
    # Refunded elsewhere after the request was approved.
    await mock_post(mock_url, "/v1/refunds", {"charge": charge_id, "amount": 700})

    # Start-up after the crash: no refund of ours at Stripe, and Stripe says no.
    assert await execute_refund(mock_deps, request_id, ignore_lease=True) == "failed"
    failed = await row(mock_deps, request_id)
    assert failed.refund_id is None
    assert "greater than unrefunded amount on charge" in (failed.failure_message or "")


async def test_the_same_key_with_other_parameters_finds_the_first_refund(
    mock_deps: Deps, mock_url: str
) -> None:
    charge_id = await charge(mock_url, 1000)
    request_id = await requested(mock_deps, charge_id, "2.00")
    # A refusal raises (bot.refund_refusals).
    await approve(mock_deps, request_id=request_id, user_id="U_MANAGER")
    first = await row(mock_deps, request_id)
    assert first.status == "succeeded"

    # A database restored from before the approval; another manager approves:
    # the same key with other metadata, which Stripe refuses as a key reused.
    await reset_to_approved(
        mock_deps,
        request_id,
        status="pending",
        decided_by=None,
        stripe_attempts=0,
        first_attempt_at=None,
    )
    # A refusal raises (bot.refund_refusals).
    await approve(mock_deps, request_id=request_id, user_id="U_MANAGER2")
    again = await row(mock_deps, request_id)
    assert (again.status, again.refund_id) == ("succeeded", first.refund_id)
    refunds = await mock_get(mock_url, f"/v1/refunds?charge={charge_id}")
    assert len(refunds["data"]) == 1
