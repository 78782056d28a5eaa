"""Build one day's summary: read the stored events, count, write, draw."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

from bot.blocks.daily import summary_text
from bot.daily.chart import render_chart
from bot.daily.figures import COUNTED_TYPES, Table, tally
from bot.daily.report import CHART_DAYS, Report, build_report, local_midnight
from bot.deps import Deps
from storage.daily_summaries import first_event_received_at, stream_events


@dataclass(frozen=True)
class Summary:
    day: date
    text: str
    chart: bytes
    report: Report

    @property
    def filename(self) -> str:
        return summary_filename(self.day)

    @property
    def title(self) -> str:
        return chart_title(self.day)


def chart_title(day: date) -> str:
    return f"Gross and refunds, {CHART_DAYS} days to {day:%d %b %Y}"


def summary_filename(day: date) -> str:
    """The chart's file name: how a repeat post of the day is recognised."""
    return f"daily-summary-{day.isoformat()}.png"


async def build_summary(deps: Deps, day: date) -> Summary:
    """The summary of local `day` (TIMEZONE) from the events the bot stored."""
    zone = deps.settings.zone
    first_day = day - timedelta(days=CHART_DAYS - 1)
    table: Table = {}
    seen: set[str] = set()
    # A read-only session, closed before anything goes to Slack.
    async with deps.sessions() as session:
        first_event_at = await first_event_received_at(session)
        async for batch in stream_events(
            session,
            types=COUNTED_TYPES,
            created_from=int(local_midnight(first_day, zone)),
            created_before=int(local_midnight(day + timedelta(days=1), zone)),
            livemode=deps.settings.stripe_live,
        ):
            # Parsing payloads is CPU work: off the event loop, batch by batch.
            await asyncio.to_thread(tally, batch, zone, table, seen)
    report = build_report(
        table,
        day=day,
        zone=zone,
        zone_name=deps.settings.TIMEZONE,
        first_event_at=first_event_at,
    )
    # Drawing is CPU work too (and the first one imports matplotlib).
    chart = await asyncio.to_thread(render_chart, report.series, title=chart_title(day))
    return Summary(day=day, text=summary_text(report), chart=chart, report=report)
