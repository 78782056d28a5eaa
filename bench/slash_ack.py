"""Time to Slack's ack under load while Stripe is slow (2 s a call).

Starts the whole bot on loopback (SQLite temp file, workers running) against
FakeSlack and FakeStripe (latency 2.0 s), fires rounds of 20 concurrent signed
`/stripe customer cus_…` commands and 20 concurrent Approve clicks, and times
each HTTP response (the ack). Beside it, a bare Bolt app whose listeners only
ack takes the same load, as the floor. Stripe work carries on after the acks;
the bench waits for it, and counts as an error any command not answered.

    python bench/slash_ack.py [--rounds 10] [--concurrency 20] [--latency 2.0]

Target: p99 under 300 ms at 20 concurrent. Exits non-zero only on errors
(a non-200 ack, an exception, an unanswered command), not on a missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.blocks.refunds import APPROVE_ACTION, request_message
from bot.config import Settings
from bot.deps import Deps
from bot.server import Options, create_app
from bot.workers import WorkerPolicy
from simulators.slack import FakeSlack
from simulators.slack_requests import block_action_body, sign, slash_command_body
from simulators.stripe import FakeStripe
from storage import outbox
from storage import refunds as store
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.support import (
    BOT_TOKEN,
    CHANNELS,
    SIGNING_SECRET,
    STRIPE_KEY,
    refund_request,
)

TARGET_P99_MS = 300.0
Fire = Callable[[aiohttp.ClientSession, str, int], Awaitable[float]]


def settings_for(db_url: str, slack_url: str, stripe_url: str) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "STRIPE_API_KEY": STRIPE_KEY,
        "STRIPE_WEBHOOK_SECRET": "whsec_bench",
        "STRIPE_API_BASE": stripe_url,
        "DATABASE_URL": db_url,
        "MANAGER_USER_IDS": "U_MANAGER,U_MANAGER2",
        **CHANNELS,
    }
    return Settings(_env_file=None, **values)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


def bare_bolt_app(slack_url: str) -> web.Application:
    """The floor: Bolt verifying the signature and acking, nothing else."""
    bolt = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=slack_url),
    )

    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    bolt.command("/stripe")(ack_only)
    bolt.action(APPROVE_ACTION)(ack_only)

    async def events(request: web.Request) -> web.StreamResponse:
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    return app


async def timed_post(session: aiohttp.ClientSession, url: str, body: str) -> float:
    started = time.perf_counter()
    async with session.post(
        f"{url}/slack/events", data=body, headers=sign(body, SIGNING_SECRET)
    ) as resp:
        await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"ack answered HTTP {resp.status}")
    return (time.perf_counter() - started) * 1000


async def run_rounds(
    session: aiohttp.ClientSession,
    url: str,
    fire: Fire,
    *,
    rounds: int,
    concurrency: int,
) -> tuple[list[float], int]:
    samples: list[float] = []
    errors = 0
    for round_no in range(rounds):
        results = await asyncio.gather(
            *(fire(session, url, round_no) for _ in range(concurrency)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                errors += 1
                print(f"  error: {result!r}", file=sys.stderr)
            else:
                samples.append(result)
    return samples, errors


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


async def seed_requests(deps: Deps, fake_stripe: FakeStripe, count: int) -> list[int]:
    """Pending refund requests to approve, as `/stripe refund` would leave them."""
    ids: list[int] = []
    async with deps.sessions() as session, session.begin():
        for _ in range(count):
            pi, charge = fake_stripe.add_payment(customer_id=None, amount=2000)
            req = await store.create_request(
                session,
                new=refund_request(
                    payment_id=pi["id"],
                    charge_id=charge["id"],
                    payment_intent_id=pi["id"],
                    requested_in="C_SUPPORT",
                    idempotency_key=f"bench-{uuid.uuid4().hex}",
                ),
                now=time.time(),
                ttl_seconds=86_400,
            )
            assert req.id is not None
            assert req.message_key is not None
            text, blocks = request_message(req)
            await outbox.enqueue(
                session,
                key=req.message_key,
                channel=deps.settings.approvals_channel,
                text=text,
                blocks=blocks,
                now=time.time(),
            )
            ids.append(req.id)
    deps.wake.outbox.set()
    return ids


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR)
    fake_slack, fake_stripe = FakeSlack(bot_token=BOT_TOKEN), FakeStripe()
    await fake_slack.start()
    await fake_stripe.start()
    customer = fake_stripe.add_customer(email="jenny@example.com", name="Jenny")
    fake_stripe.add_payment_method(customer["id"], default=True)
    for amount in (1200, 3400, 5600):
        fake_stripe.add_payment(customer_id=customer["id"], amount=amount)

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(db_url)
        await upgrade(engine)
        await engine.dispose()
        deps = Deps.create(settings_for(db_url, fake_slack.url, fake_stripe.url))
        app = create_app(deps, Options(policy=WorkerPolicy(channel_interval=0.0)))
        bot_runner, bot_url = await serve(app)
        bare_runner, bare_url = await serve(bare_bolt_app(fake_slack.url))
        request_ids = await seed_requests(deps, fake_stripe, args.rounds)
        fake_stripe.latency = args.latency
        answer_urls: list[str] = []

        async def command(session: aiohttp.ClientSession, url: str, _: int) -> float:
            response_url = fake_slack.response_url()
            if url == bot_url:
                answer_urls.append(response_url)
            body = slash_command_body(
                text=f"customer {customer['id']}", response_url=response_url
            )
            return await timed_post(session, url, body)

        clicks = 0

        async def approve(session: aiohttp.ClientSession, url: str, n: int) -> float:
            nonlocal clicks
            clicks += 1
            body = block_action_body(
                action_id=APPROVE_ACTION,
                value=str(request_ids[n]),
                user_id="U_MANAGER" if clicks % 2 else "U_MANAGER2",
                channel_id="CAPPROVALS",
                message_ts="1700000000.000100",
                response_url=fake_slack.response_url(),
            )
            return await timed_post(session, url, body)

        rows: list[tuple[str, list[float], int]] = []
        errors = 0
        try:
            async with aiohttp.ClientSession() as session:
                # The floor first, while nothing else runs in this process.
                for label, url, fire in (
                    ("/stripe customer: bare Bolt", bare_url, command),
                    ("Approve click: bare Bolt", bare_url, approve),
                    ("/stripe customer: bot", bot_url, command),
                    ("Approve click: bot", bot_url, approve),
                ):
                    samples, failed = await run_rounds(
                        session,
                        url,
                        fire,
                        rounds=args.rounds,
                        concurrency=args.concurrency,
                    )
                    rows.append((label, samples, failed))
                    errors += failed
            # The Stripe work after the acks must finish too.
            deadline = time.monotonic() + 20 * args.latency + 30
            while time.monotonic() < deadline and not (
                all(u in fake_slack.responses for u in answer_urls)
                and len(fake_stripe.refunds) >= len(request_ids)
            ):
                await asyncio.sleep(0.1)
            unanswered = sum(u not in fake_slack.responses for u in answer_urls)
            if unanswered:
                print(f"  error: {unanswered} commands got no answer", file=sys.stderr)
                errors += unanswered
            refunded = len(fake_stripe.refunds)
            if refunded != len(request_ids):
                print(
                    f"  error: {refunded} refunds for {len(request_ids)} approved "
                    "requests",
                    file=sys.stderr,
                )
                errors += 1
        finally:
            await bot_runner.cleanup()
            await bare_runner.cleanup()
            await fake_slack.stop()
            await fake_stripe.stop()

    print(
        f"\nAck latency, {args.concurrency} concurrent, Stripe latency "
        f"{args.latency:.1f} s, {args.rounds} rounds (target p99 < "
        f"{TARGET_P99_MS:.0f} ms)\n"
    )
    print(f"{'':30} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}")
    for label, samples, failed in rows:
        print(
            f"{label:30} {len(samples):>5} {statistics.median(samples):>8.1f} "
            f"{percentile(samples, 99):>8.1f} {max(samples):>8.1f} {failed:>7}"
            if samples
            else f"{label:30} {0:>5} {'-':>8} {'-':>8} {'-':>8} {failed:>7}"
        )
    print(
        f"\nAnswers after the ack: {len(answer_urls) - unanswered}/"
        f"{len(answer_urls)} commands; refunds made: {refunded} for "
        f"{len(request_ids)} approved requests."
    )
    return 1 if errors else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--latency", type=float, default=2.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
