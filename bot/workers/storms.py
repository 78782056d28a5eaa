"""Storm summaries: when a channel's alerts would take more than a minute to
send as digests, one summary and a CSV of every event go out instead.

The outbox sender asks `StormSender.step(channel)` before its own work in a
channel: a summary to post or a CSV to upload goes first; else it decides
whether to fold the channel's waiting alerts now. Posting follows the
outbox's rules: tagged with its key in message metadata, looked for in the
channel before a second try after an answer we never saw. The CSV likewise
is looked for in the summary's thread before a second upload.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.backoff import backoff
from bot.blocks.alerts import DIGEST_MAX_ITEMS
from bot.deps import Deps
from bot.slack_files import SlackFile, upload_file
from bot.workers.policy import WorkerPolicy
from bot.workers.posted import find_posted, outbox_metadata
from bot.workers.storm_folds import StormFolder, csv_content, kept, taken_over
from storage import storms
from storage.models import OutboxMessage, StormSummary

log = logging.getLogger(__name__)

_BAD_BLOCKS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long"}
)
# SlackClientError: also files_upload_v2's own (the bytes refused by the upload URL).
_SLACK_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class Step:
    """What `StormSender.step` did in a channel."""

    made: int = 0  # Slack posts or uploads made (each paced as a message)
    # Hold the channel's foldable alerts (a storm is on: they join the next
    # summary); only messages that are never folded go out meanwhile.
    hold: bool = False


def csv_name(summary: StormSummary) -> str:
    return f"stripe-events-storm-{summary.id}.csv"


class StormSender:
    """Folds storms, posts their summaries, uploads their CSVs."""

    def __init__(self, deps: Deps, policy: WorkerPolicy) -> None:
        self.deps = deps
        self.policy = policy
        self.folder = StormFolder(deps, policy)

    async def open_channels(self, exclude: list[str]) -> list[str]:
        async with self.deps.sessions() as session, session.begin():
            return await storms.open_channels(
                session, now=self.deps.clock.now(), exclude=exclude
            )

    async def step(self, channel: str) -> Step:
        made = await self._send_open(channel)
        if made:
            return Step(made=made)
        decision = await self._decide(channel)
        if decision == "fold":
            if await self.folder.fold(channel):
                return Step(made=await self._send_open(channel))
            return Step()
        return Step(hold=decision == "hold")

    # -- deciding ----------------------------------------------------------------

    async def _decide(self, channel: str) -> str:
        """ "fold", "hold" or "" (send as today: alone or as digests)."""
        policy = self.policy
        interval = policy.channel_interval
        if interval <= 0:
            return ""  # no pace, no queue: nothing ever waits a minute
        # Enough rows to tell whether sending them takes more than
        # storm_seconds, no more: the look costs the same at any backlog.
        limit = math.floor(policy.storm_seconds / interval) * DIGEST_MAX_ITEMS + 1
        now = self.deps.clock.now()
        async with self.deps.sessions() as session, session.begin():
            waiting = await storms.waiting(
                session, channel=channel, now=now, limit=limit
            )
            if waiting.foldable == 0:
                return ""
            last = await storms.last_summary_at(session, channel=channel)
        if last is not None and now - last < policy.storm_seconds:
            # A storm is on in this channel: what arrives gathers for the
            # next summary (one every storm_gather_seconds, however fast the
            # alerts come) instead of trickling out as digests behind it.
            assert waiting.oldest_foldable is not None
            if now - waiting.oldest_foldable < policy.storm_gather_seconds:
                return "hold"
            return "fold" if waiting.foldable > DIGEST_MAX_ITEMS else ""
        digests = math.ceil(waiting.foldable / DIGEST_MAX_ITEMS)
        if waiting.foldable > DIGEST_MAX_ITEMS and (
            (digests + waiting.other) * interval > policy.storm_seconds
        ):
            return "fold"
        return ""

    async def _send_folded(self, summary_id: int, ts: str) -> None:
        """A posted summary's alerts become sent (the first slice already
        has, with the post), a slice per transaction."""
        after: int | None = 0
        while after is not None:
            async with self.deps.sessions() as session, session.begin():
                after = await storms.send_folded(
                    session,
                    summary_id=summary_id,
                    ts=ts,
                    now=self.deps.clock.now(),
                    after=after,
                )

    # -- sending -----------------------------------------------------------------

    async def _send_open(self, channel: str) -> int:
        deps = self.deps
        async with deps.sessions() as session, session.begin():
            summary = await storms.claim_next(
                session,
                channel=channel,
                claimant=deps.instance_id,
                now=deps.clock.now(),
                lease=self.policy.lease_seconds,
            )
        if summary is None:
            return 0
        assert summary.id is not None
        if summary.status == storms.BUILDING:
            # Its folder died before the words: written here, then posted.
            if not await self.folder.build(summary.id, summary.key, summary.channel):
                return 0
            return await self._send_open(channel)
        if summary.status == storms.CLAIMED:
            await self._post(summary)
        else:
            await self._upload(summary)
        return 1

    async def _post(self, summary: StormSummary) -> None:
        assert summary.id is not None
        # A transient row: the lookup and the tag are the outbox's own.
        as_row = OutboxMessage(
            key=summary.key, channel=summary.channel, text="", created_at=0.0
        )
        try:
            async with kept(self.deps, self.policy, summary.id, summary.key):
                ts: str | None = None
                if summary.attempts > 0 or summary.claimed_by is not None:
                    found = await find_posted(self.deps.slack, [as_row], None)
                    ts = found.get(summary.key)
                if ts is None:
                    ts = await self._send(summary, as_row)
                    self.deps.metrics.outbox_sent.labels("storm").inc()
        except _SLACK_ERRORS as exc:
            # Also cut off: Slack may have the post; the attempt counted
            # makes the next claimant look in the channel first.
            await self._failed(summary, exc, uncertain=False)
            return
        async with self.deps.sessions() as session, session.begin():
            applied = await storms.mark_posted(
                session,
                summary_id=summary.id,
                ts=ts,
                claimant=self.deps.instance_id,
                now=self.deps.clock.now(),
            )
        if not applied:
            taken_over(summary.key)
            return
        await self._send_folded(summary.id, ts)

    async def _send(self, summary: StormSummary, as_row: OutboxMessage) -> str:
        blocks: list[dict[str, object]] | None = summary.blocks
        while True:
            try:
                resp = await self.deps.slack.chat_postMessage(
                    channel=summary.channel,
                    text=summary.text,
                    blocks=blocks,
                    unfurl_links=False,
                    unfurl_media=False,
                    metadata=outbox_metadata([as_row]),
                )
                return str(resp["ts"])
            except SlackApiError as exc:
                if blocks is None or exc.response.get("error") not in _BAD_BLOCKS:
                    raise
                # Slack refused our blocks (a bug on our side): the text and
                # the CSV still say what happened; send that, not nothing.
                log.error("Slack refused the blocks of %s; sending text", summary.key)
                blocks = None

    async def _upload(self, summary: StormSummary) -> None:
        assert summary.id is not None
        assert summary.ts is not None
        try:
            async with kept(self.deps, self.policy, summary.id, summary.key):
                file_id = None
                if summary.upload_uncertain or summary.claimed_by is not None:
                    file_id = await self._find_upload(summary)
                # Alerts a crash left folded after the post become sent.
                await self._send_folded(summary.id, summary.ts)
                if file_id is None:
                    rows = await self.folder.rows(summary.id)
                    content = await asyncio.to_thread(csv_content, rows)
                    file_id = await upload_file(
                        self.deps.slack,
                        SlackFile(
                            filename=csv_name(summary),
                            content=content,
                            title=f"{summary.events:,} Stripe events (CSV)",
                        ),
                        channel=summary.channel,
                        thread_ts=summary.ts,
                    )
        except _SLACK_ERRORS as exc:
            # Also cut off: the file may be in the thread; looked for next.
            await self._failed(summary, exc, uncertain=True)
            return
        async with self.deps.sessions() as session, session.begin():
            applied = await storms.mark_done(
                session,
                summary_id=summary.id,
                file_id=file_id,
                claimant=self.deps.instance_id,
            )
        if not applied:
            taken_over(summary.key)

    async def _find_upload(self, summary: StormSummary) -> str | None:
        """The CSV's file ID if an earlier upload shared it in the thread."""
        name, cursor = csv_name(summary), None
        try:
            while True:
                resp = await self.deps.slack.conversations_replies(
                    channel=summary.channel, ts=summary.ts or "", cursor=cursor
                )
                for message in resp.get("messages") or []:
                    for file in message.get("files") or []:
                        if file.get("name") == name:
                            return str(file["id"])
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return None
        except SlackApiError as exc:
            if exc.response.get("error") not in ("missing_scope", "not_in_channel"):
                raise
            log.warning(
                "cannot read the thread of %s (%s); uploading its CSV again, "
                "which may show it twice",
                summary.key,
                exc.response.get("error"),
            )
            return None

    async def _failed(
        self, summary: StormSummary, exc: Exception, *, uncertain: bool
    ) -> None:
        assert summary.id is not None
        policy, now = self.policy, self.deps.clock.now()
        me = self.deps.instance_id
        async with self.deps.sessions() as session, session.begin():
            if isinstance(exc, SlackApiError) and exc.response.status_code == 429:
                deferred = await storms.defer(
                    session,
                    summary_id=summary.id,
                    until=now + 1.0,
                    claimant=me,
                )
                if not deferred:
                    taken_over(summary.key)
                return
            delay = backoff(
                summary.attempts, base=policy.retry_base, cap=policy.retry_cap
            )
            if not isinstance(exc, SlackApiError) or exc.response.status_code >= 500:
                delay = max(delay, policy.unknown_outcome_wait)
            error = (
                str(exc.response.get("error"))
                if isinstance(exc, SlackApiError)
                else type(exc).__name__
            )
            applied = await storms.mark_failed(
                session,
                summary_id=summary.id,
                error=error,
                retry_at=now + delay,
                upload_uncertain=uncertain,
                claimant=me,
            )
        if not applied:
            taken_over(summary.key)
            return
        log.warning("storm summary %s: Slack failed (%s)", summary.key, error)
