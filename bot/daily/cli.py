"""`python -m bot summary [--date YYYY-MM-DD] [--print]`: the summary now."""

from __future__ import annotations

import asyncio
import sys
from datetime import date, timedelta
from pathlib import Path

from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.daily.posting import post_now
from bot.daily.report import local_date
from bot.daily.summary import build_summary, summary_filename
from bot.deps import Deps
from storage.engine import is_sqlite
from storage.migrate import current_revision, head_revision, upgrade


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path.resolve()


def _day(settings: Settings, deps: Deps, text: str | None) -> date:
    if text is None:
        return local_date(deps.clock.now(), settings.zone) - timedelta(days=1)
    return date.fromisoformat(text)


async def run_summary(
    settings: Settings,
    *,
    day: str | None,
    print_only: bool,
    chart_path: str | None,
    deps: Deps | None = None,
) -> int:
    """Post (or print) one day's summary; the process's exit status."""
    owned = deps is None
    deps = deps or Deps.create(settings)
    try:
        try:
            which = _day(settings, deps, day)
        except ValueError:
            print(f"--date {day}: not a date; write it as YYYY-MM-DD", file=sys.stderr)
            return 2
        if is_sqlite(deps.engine):
            # The embedded default keeps itself current, as the server does.
            await upgrade(deps.engine)
        elif (current := await current_revision(deps.engine)) != head_revision():
            print(
                f"the database schema is at {current or 'nothing'}, the code needs "
                f"{head_revision()}: run `python -m bot migrate` first",
                file=sys.stderr,
            )
            return 2
        if print_only:
            summary = await build_summary(deps, which)
            path = await asyncio.to_thread(
                _write, Path(chart_path or summary_filename(which)), summary.chart
            )
            print(summary.text)
            print(f"\nchart written to {path}")
            return 0
        channel = settings.DAILY_SUMMARY_CHANNEL
        if channel is None:
            print(
                "DAILY_SUMMARY_CHANNEL is not set: set it to the channel's ID "
                "(C…), or use --print",
                file=sys.stderr,
            )
            return 2
        try:
            file_id = await post_now(deps, day=which, channel=channel)
        except SlackApiError as exc:
            print(
                f"Slack refused the summary: {exc.response.get('error')}",
                file=sys.stderr,
            )
            return 1
        print(f"summary of {which.isoformat()} posted in {channel} (file {file_id})")
        return 0
    finally:
        if owned:
            await deps.aclose()
