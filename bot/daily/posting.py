"""Post the daily summary once per day, across restarts and instances.

The day's row is claimed (insert, or take-over of a run-out lease) before
anything is built; the upload is counted in the row before it starts; the row
is marked posted after. A crash between claim and post leaves a claim whose
lease runs out: the catch-up job takes it over, and because the row says an
upload began, it first looks in the channel for the chart (by its file name)
so the day is not posted twice.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from slack_sdk.errors import SlackApiError

from bot.daily.report import due_at, local_date
from bot.daily.summary import Summary, build_summary, summary_filename
from bot.deps import Deps
from bot.slack_files import SlackFile, upload_file
from storage import daily_summaries as rows

log = logging.getLogger(__name__)

# Long enough to build and upload; a claimant silent for longer is gone.
LEASE_SECONDS = 300.0
# After a failure (Slack down, a timeout) the next try waits this long.
RETRY_SECONDS = 300.0
HISTORY_PAGE_SIZE = 200
HISTORY_PAGES = 5
_UNREADABLE = frozenset(
    {"missing_scope", "not_in_channel", "channel_not_found", "access_denied"}
)


def summary_day_due(deps: Deps) -> date | None:
    """The day whose summary is due now: yesterday, once today's time passed."""
    settings = deps.settings
    zone = settings.zone
    now = deps.clock.now()
    today = local_date(now, zone)
    if now < due_at(today, settings.daily_summary_time, zone):
        return None
    return today - timedelta(days=1)


async def post_if_due(deps: Deps) -> bool:
    """Post yesterday's summary if its time has come and nobody has; True if
    this call posted it. Called by the cron job, the catch-up job, at start."""
    channel = deps.settings.DAILY_SUMMARY_CHANNEL
    day = summary_day_due(deps)
    if channel is None or day is None:
        return False
    return await post_once(deps, day=day, channel=channel)


async def post_once(deps: Deps, *, day: date, channel: str) -> bool:
    """Claim `day`, post its summary, mark it posted; False if not ours to post."""
    key = day.isoformat()
    me = deps.instance_id
    async with deps.sessions() as session, session.begin():
        claim = await rows.claim_day(
            session, day=key, claimant=me, now=deps.clock.now(), lease=LEASE_SECONDS
        )
    if claim is None:
        return False
    try:
        if claim.attempts:
            found = await find_posted(deps, channel=channel, day=day)
            if found is not None:
                log.info("the summary of %s was already in Slack (%s)", key, found)
                await _mark_posted(deps, day=day, file_id=found, channel=channel)
                return False
        summary = await build_summary(deps, day)
        async with deps.sessions() as session, session.begin():
            ours = await rows.begin_attempt(
                session, day=key, claimant=me, channel=channel, now=deps.clock.now()
            )
        if not ours:
            return False
        file_id = await send(deps, summary, channel=channel)
    except Exception as exc:
        reason = type(exc).__name__
        if isinstance(exc, SlackApiError):
            reason = str(exc.response.get("error"))
        log.warning("daily summary of %s not posted (%s); will retry", key, reason)
        async with deps.sessions() as session, session.begin():
            await rows.release(
                session,
                day=key,
                claimant=me,
                error=reason,
                retry_at=deps.clock.now() + RETRY_SECONDS,
            )
        return False
    await _mark_posted(deps, day=day, file_id=file_id, channel=channel)
    log.info("daily summary of %s posted in %s", key, channel)
    return True


async def send(deps: Deps, summary: Summary, *, channel: str) -> str:
    """Upload the chart with the summary as its comment; the file's ID."""
    return await upload_file(
        deps.slack,
        SlackFile(summary.filename, summary.chart, summary.title),
        channel=channel,
        comment=summary.text,
    )


async def post_now(deps: Deps, *, day: date, channel: str) -> str:
    """Post `day`'s summary now, asked for by hand (`python -m bot summary`),
    and record the day as posted so the schedule does not post it again."""
    summary = await build_summary(deps, day)
    file_id = await send(deps, summary, channel=channel)
    await _mark_posted(deps, day=day, file_id=file_id, channel=channel)
    return file_id


async def _mark_posted(
    deps: Deps, *, day: date, file_id: str | None, channel: str
) -> None:
    async with deps.sessions() as session, session.begin():
        await rows.mark_posted(
            session,
            day=day.isoformat(),
            file_id=file_id,
            channel=channel,
            now=deps.clock.now(),
        )


async def find_posted(deps: Deps, *, channel: str, day: date) -> str | None:
    """The file ID of `day`'s chart if the channel's latest messages show it
    (an earlier attempt is at most a lease and a retry wait ago).

    None when not found, or when the channel cannot be read (no *:history
    scope): then posting again is the only way not to lose the day.
    """
    wanted = summary_filename(day)
    cursor: str | None = None
    try:
        for _ in range(HISTORY_PAGES):
            resp = await deps.slack.conversations_history(
                channel=channel,
                limit=HISTORY_PAGE_SIZE,
                cursor=cursor,
            )
            for message in resp.get("messages") or []:
                # Only the app posts files by this name; a person's upload
                # has no bot_id.
                if not message.get("bot_id"):
                    continue
                for file in message.get("files") or []:
                    if file.get("name") == wanted:
                        return str(file["id"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error not in _UNREADABLE:
            raise
        log.warning("cannot read %s (%s); posting the summary again", channel, error)
    return None
