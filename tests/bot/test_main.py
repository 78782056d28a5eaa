"""`python -m bot` as an operator runs it: start-up, alerts, a SIGKILL."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.deps import Deps
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.process import BotProcess, bot_env, free_port
from tests.settle import settled
from tests.support import (
    BOT_TOKEN,
    SIGNING_SECRET,
    STRIPE_KEY,
    WEBHOOK_SECRET,
    event,
    signed,
)

pytestmark = pytest.mark.slow


def test_without_configuration_it_says_what_to_set(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for name in (
        "SLACK_BOT_TOKEN",
        "STRIPE_API_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "ALERT_CHANNEL",
    ):
        assert f"{name}: is not set" in result.stderr


def test_a_dot_env_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-from-dotenv\nSTRIPE_API_KEY=pk_test_wrongkind\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" not in result.stderr  # read from .env, and valid
    assert "STRIPE_API_KEY: must be a secret" in result.stderr
    assert "pk_test_wrongkind" not in result.stderr


Starter = Callable[..., BotProcess]


@pytest.fixture
async def bot_process(
    tmp_path: Path, db_url: str, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> AsyncIterator[Starter]:
    started: list[BotProcess] = []
    port = free_port()

    def _make(**extra: str) -> BotProcess:
        env = bot_env(
            db_url=db_url,
            slack_url=fake_slack.url,
            stripe_url=fake_stripe.url,
            port=port,
            **extra,
        )
        proc = BotProcess(env, tmp_path)
        started.append(proc)
        return proc

    yield _make
    for proc in started:
        proc.stop()


async def migrate(db_url: str, cwd: Path) -> None:
    if db_url.startswith("sqlite"):
        return  # the server migrates SQLite itself
    env = bot_env(
        db_url=db_url,
        slack_url="http://127.0.0.1:9/api/",
        stripe_url="http://127.0.0.1:9",
        port=9,
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


async def test_dispute_webhook_to_a_running_bot_alerts_once(
    bot_process: Starter,
    fake_slack: FakeSlack,
    db_url: str,
    tmp_path: Path,
    deps: Deps,  # on the bot's database: to see when it has nothing left to do
) -> None:
    await migrate(db_url, tmp_path)
    bot = bot_process()
    await bot.start()
    evt = event("charge.dispute.created")
    body, headers = signed(evt)
    assert (await bot.post("/stripe/webhook", body, headers))[0] == 200
    (call,) = await fake_slack.wait_for_calls("chat.postMessage", 1, timeout=20)
    assert call.args["channel"] == "CDISPUTES"
    assert (await bot.post("/stripe/webhook", body, headers))[0] == 200
    tampered = body.replace(b"needs_response", b"won")
    assert (await bot.post("/stripe/webhook", tampered, headers))[0] == 400
    try:
        await settled(deps, fake_slack)  # a second alert would be out by now
    finally:
        await deps.aclose()  # no app owns these: the test closes them
    posts = [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if evt["id"] in json.dumps(c.args)
    ]
    assert len(posts) == 1


async def test_sigkill_after_200s_loses_no_alert(
    bot_process: Starter, fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    # Slow Slack, so that most alerts are still queued when the kill lands.
    fake_slack.latency = 0.3
    bot = bot_process()
    await bot.start()
    events = [event("charge.succeeded") for _ in range(20)]
    for evt in events:
        body, headers = signed(evt)
        status, _ = await bot.post("/stripe/webhook", body, headers)
        assert status == 200
    bot.kill()
    sent_before = list(fake_slack.calls_to("chat.postMessage"))
    assert len({i for c in sent_before for i in ids_in(c.args)}) < 20, (
        "kill came too late to mean anything"
    )

    fake_slack.latency = 0.0
    restarted = bot_process()
    await restarted.start()
    wanted = {e["id"] for e in events}

    async def all_posted() -> None:
        while not wanted <= {
            i for c in fake_slack.calls_to("chat.postMessage") for i in ids_in(c.args)
        }:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(all_posted(), 60)
    # A message posted twice is the one in flight at the kill: at most one.
    seen: dict[str, int] = {}
    for call in fake_slack.calls_to("chat.postMessage"):
        for i in ids_in(call.args):
            seen[i] = seen.get(i, 0) + 1
    twice = {i for i, n in seen.items() if n > 1}
    messages_with_twice = [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if twice & set(ids_in(c.args))
    ]
    assert len(messages_with_twice) <= 2, (
        "more than the one in-flight message was repeated"
    )


def ids_in(args: dict[str, object]) -> list[str]:
    return sorted(set(re.findall(r"evt_T\d+", json.dumps(args))))


async def test_json_logs_name_the_request_or_event_and_hold_no_secret(
    bot_process: Starter, fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("logging does not depend on the database")
    bot = bot_process(LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    await bot.start()
    evt = event("charge.succeeded")
    body, headers = signed(evt)
    assert (await bot.post("/stripe/webhook", body, headers))[0] == 200
    await fake_slack.wait_for_calls("chat.postMessage", 1, timeout=20)
    assert (await bot.post("/stripe/webhook", body + b" ", headers))[0] == 400
    bot.stop()

    lines = [json.loads(line) for line in bot.output().splitlines() if line.strip()]
    assert lines, "the bot logged nothing"
    assert all({"time", "level", "message", "correlation_id"} <= set(x) for x in lines)
    about_event = [x for x in lines if x["correlation_id"] == evt["id"]]
    assert any("stored" in x["message"] for x in about_event)
    rejected = [x for x in lines if "rejected a Stripe webhook" in x["message"]]
    assert rejected
    assert rejected[0]["correlation_id"].startswith("req_")
    text = bot.output()
    for secret in (BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET, STRIPE_KEY):
        assert secret not in text
