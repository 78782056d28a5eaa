"""`python -m bot check`: everything right, or each problem named with a fix."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import pytest

from bot.check import REQUIRED_SCOPES, collect, print_report
from bot.deps import Deps
from bot.webhook_audit import RECOMMENDED_EVENTS
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.conftest import make_settings
from tests.process import bot_env, free_port
from tests.support import BOT_TOKEN, CHANNELS

PUBLIC_URL = "https://ops.example.com"
ALL_PERMISSIONS = frozenset(
    {
        "rak_customer_read",
        "rak_payment_method_read",
        "rak_payment_intent_read",
        "rak_charge_read",
        "rak_refund_write",
        "rak_dispute_write",
        "rak_file_write",
        "rak_webhook_read",
    }
)
RESTRICTED = "rk_test_restrictedkey123"


async def report(
    db_url: str, fake_slack: FakeSlack, fake_stripe: FakeStripe, **overrides: str
) -> tuple[int, str]:
    values = {"STRIPE_API_KEY": RESTRICTED, "PUBLIC_URL": PUBLIC_URL, **overrides}
    settings = make_settings(
        db_url=db_url, slack_url=fake_slack.url, stripe_url=fake_stripe.url, **values
    )
    deps = Deps.create(settings)
    try:
        findings = await collect(deps)
    finally:
        await deps.aclose()
    out = io.StringIO()
    print_report(findings, out)
    text = out.getvalue()
    assert RESTRICTED not in text
    assert BOT_TOKEN not in text
    return sum(1 for f in findings if not f.ok), text


@pytest.fixture
def healthy_stripe(fake_stripe: FakeStripe) -> FakeStripe:
    fake_stripe.api_keys[RESTRICTED] = ALL_PERMISSIONS
    fake_stripe.add_webhook_endpoint(
        url=f"{PUBLIC_URL}/stripe/webhook", enabled_events=list(RECOMMENDED_EVENTS)
    )
    fake_stripe.add_webhook_endpoint(
        url="https://other.example.com/hooks", enabled_events=["charge.succeeded"]
    )
    return fake_stripe


async def test_everything_right(
    db_url: str, fake_slack: FakeSlack, healthy_stripe: FakeStripe
) -> None:
    problems, text = await report(db_url, fake_slack, healthy_stripe)
    assert problems == 0, text
    assert "everything is wired right" in text
    assert "test mode, restricted key" in text
    assert "Refunds: Write (rak_refund_write)" in text
    assert f"sends all {len(RECOMMENDED_EVENTS)} recommended events" in text


async def test_the_four_classic_mistakes_are_each_named(
    db_url: str, fake_stripe: FakeStripe
) -> None:
    fake_slack = FakeSlack(
        bot_token=BOT_TOKEN,
        scopes=[s for s in REQUIRED_SCOPES if s != "chat:write.public"],
    )
    await fake_slack.start()
    try:
        fake_slack.channels[CHANNELS["APPROVALS_CHANNEL"]] = {"is_private": True}
        fake_slack.not_in_channel.add(CHANNELS["APPROVALS_CHANNEL"])
        fake_stripe.api_keys[RESTRICTED] = ALL_PERMISSIONS - {"rak_refund_write"}
        ours = fake_stripe.add_webhook_endpoint(
            url=f"{PUBLIC_URL}/stripe/webhook/",
            enabled_events=[
                e for e in RECOMMENDED_EVENTS if e != "charge.dispute.created"
            ],
        )
        assert ours["url"].endswith("/")
        problems, text = await report(
            db_url, fake_slack, fake_stripe, PUBLIC_URL=f"{PUBLIC_URL}/"
        )
    finally:
        await fake_slack.stop()
    assert "FAIL  Slack: the token lacks scope chat:write.public" in text
    assert f"FAIL  Slack: channel {CHANNELS['APPROVALS_CHANNEL']}" in text
    assert "invite the bot" in text
    assert "FAIL  Stripe: the key lacks Refunds: Write (rak_refund_write)" in text
    assert "does not send charge.dispute.created" in text
    assert problems >= 4
    assert "problems found" in text


async def test_no_webhook_endpoint_and_no_managers(
    db_url: str, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    fake_stripe.api_keys[RESTRICTED] = ALL_PERMISSIONS
    problems, text = await report(db_url, fake_slack, fake_stripe, MANAGER_USER_IDS="")
    assert f"no endpoint points at {PUBLIC_URL}/stripe/webhook" in text
    assert "charge.dispute.created" in text  # the fix lists the events to add
    assert "FAIL  managers: nobody can approve refunds" in text
    assert problems == 2


async def test_a_wrong_bot_token_and_an_unknown_key(
    db_url: str, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    problems, text = await report(
        db_url,
        fake_slack,
        fake_stripe,
        SLACK_BOT_TOKEN="xoxb-revoked-token",
        STRIPE_API_KEY="rk_test_unknownkey999",
    )
    assert "FAIL  Slack: auth.test failed (invalid_auth)" in text
    assert "FAIL  Stripe:" in text
    assert "rk_test_unknownkey999" not in text
    assert "xoxb-revoked-token" not in text
    assert problems >= 2


async def run_check_command(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    # The fakes answer from this event loop, so the child is awaited, not waited.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return int(proc.returncode or 0), out.decode()


async def test_check_command_exit_status(
    tmp_path: Path, sqlite_url: str, fake_slack: FakeSlack, healthy_stripe: FakeStripe
) -> None:
    env = bot_env(
        db_url=sqlite_url,
        slack_url=fake_slack.url,
        stripe_url=healthy_stripe.url,
        port=free_port(),
        STRIPE_API_KEY=RESTRICTED,
        PUBLIC_URL=PUBLIC_URL,
    )
    status, out = await run_check_command(env, tmp_path)
    assert "everything is wired right" in out, out
    assert status == 0
    healthy_stripe.api_keys[RESTRICTED] = ALL_PERMISSIONS - {"rak_dispute_write"}
    status, out = await run_check_command(env, tmp_path)
    assert status == 1
    assert "Disputes: Write (rak_dispute_write)" in out
    assert RESTRICTED not in out
