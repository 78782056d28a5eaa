"""The daily summary's schedule, the start-up catch-up, and the CLI."""

from __future__ import annotations

import asyncio
import struct
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

import handlers
from bot.config import Settings
from bot.daily.posting import post_if_due
from bot.deps import Deps
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.bot import daily_data as d
from tests.conftest import AppFactory, ManualClock
from tests.process import ROOT, bot_env

CHANNEL = "CSUMMARY"
DUE = d.at(21, 9)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "TIMEZONE": "Asia/Tokyo",
        "DAILY_SUMMARY_CHANNEL": CHANNEL,
        "DAILY_SUMMARY_AT": "09:00",
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DUE)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_cron_job_fires_at_the_local_time(deps: Deps) -> None:
    scheduler = AsyncIOScheduler(timezone="UTC")
    handlers.register_jobs(scheduler, deps)
    job = scheduler.get_job("daily-summary")

    # Noon UTC on the 20th is 21:00 in Tokyo: next is 09:00 Tokyo on the
    # 21st, which is midnight UTC.
    noon_utc = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    fire = job.trigger.get_next_fire_time(None, noon_utc)

    assert fire.astimezone(UTC) == datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    assert fire.timestamp() == DUE


async def test_no_channel_no_jobs(
    db_url: str, fake_slack: FakeSlack, fake_stripe: FakeStripe
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(
        db_url=db_url, slack_url=fake_slack.url, stripe_url=fake_stripe.url
    )
    deps = Deps.create(settings)
    try:
        scheduler = AsyncIOScheduler(timezone="UTC")
        handlers.register_jobs(scheduler, deps)
        assert scheduler.get_job("daily-summary") is None
        assert not await post_if_due(deps)
    finally:
        await deps.aclose()


async def test_a_summary_missed_while_down_is_posted_at_start(
    deps: Deps,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: ManualClock,
    start_app: AppFactory,
) -> None:
    await d.store(deps, d.the_day(), received_at=d.LONG_AGO)
    # The bot comes up at 11:00 Tokyo, two hours after the summary's time.
    clock.t = d.at(21, 11)

    await start_app(settings, clock=clock)
    await fake_slack.wait_for_calls("files.completeUploadExternal", count=1)

    [share] = fake_slack.messages[CHANNEL]
    assert d.block(share["text"], "USD")[1].startswith("• Payments: 3 succeeded")


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return bot_env(
        db_url=settings.DATABASE_URL,
        slack_url=settings.SLACK_API_URL,
        stripe_url=settings.STRIPE_API_BASE,
        port=1,  # not served: the command only posts or prints
        TIMEZONE="Asia/Tokyo",
        **extra,
    )


async def _run(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "summary",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_cli_print_shows_the_text_and_writes_the_chart(
    deps: Deps, settings: Settings, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    await d.store(deps, d.the_week_before(), received_at=d.LONG_AGO)
    await d.store(deps, d.the_day(), received_at=d.LONG_AGO)

    cwd = tmp_path / "operator"
    cwd.mkdir()

    code, out, err = await _run(_env(settings), cwd, "--date", "2026-11-20", "--print")

    assert code == 0, err
    assert d.block(out, "KWD") == d.EXPECTED_KWD
    chart = cwd / "daily-summary-2026-11-20.png"
    assert f"chart written to {chart}" in out
    assert png_size(chart.read_bytes()) == (1200, 675)
    assert fake_slack.calls_to("files.completeUploadExternal") == []
    # matplotlib's font cache goes to its own place, never the working directory.
    assert sorted(p.name for p in cwd.iterdir()) == [chart.name]


@pytest.mark.slow
async def test_cli_posts_and_the_schedule_then_does_not(
    deps: Deps, settings: Settings, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    await d.store(deps, d.the_week_before(), received_at=d.LONG_AGO)
    await d.store(deps, d.the_day(), received_at=d.LONG_AGO)

    code, out, err = await _run(
        _env(settings, DAILY_SUMMARY_CHANNEL=CHANNEL),
        tmp_path,
        "--date",
        "2026-11-20",
    )

    assert code == 0, err
    assert f"summary of 2026-11-20 posted in {CHANNEL}" in out
    [share] = fake_slack.messages[CHANNEL]
    assert d.block(share["text"], "JPY") == d.EXPECTED_JPY
    assert share["files"][0]["name"] == "daily-summary-2026-11-20.png"
    # 09:00 the next morning: already posted by hand, not posted again.
    assert not await post_if_due(deps)
    assert len(fake_slack.messages[CHANNEL]) == 1


@pytest.mark.slow
async def test_cli_without_a_channel_says_what_to_set(
    settings: Settings, tmp_path: Path
) -> None:
    code, _out, err = await _run(_env(settings), tmp_path)

    assert code == 2
    assert "DAILY_SUMMARY_CHANNEL is not set" in err


def test_importing_the_server_does_not_import_matplotlib() -> None:
    import subprocess

    code = (
        "import sys, bot.server, handlers, bot.daily.posting; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


@pytest.mark.slow
async def test_cli_refuses_a_malformed_date(settings: Settings, tmp_path: Path) -> None:
    code, _out, err = await _run(_env(settings), tmp_path, "--date", "20/11/2026")

    assert code == 2
    assert "--date 20/11/2026: not a date; write it as YYYY-MM-DD" in err
