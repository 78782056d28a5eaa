"""The outbox sender: queued Slack messages -> Slack, paced, never dropped."""

from __future__ import annotations

import contextlib
import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backoff import backoff
from bot.blocks.alerts import DIGEST_MAX_ITEMS, build_digest
from bot.deps import Deps
from bot.logs import correlation_id
from bot.workers.claim_lease import kept_claim, outbox_rows
from bot.workers.policy import WorkerPolicy, wait_for_wake
from bot.workers.posted import find_posted, outbox_metadata
from bot.workers.storms import StormSender
from storage import outbox, storms
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


class OutboxSender:
    """Sends queued Slack messages; never drops one, paces each channel."""

    def __init__(self, deps: Deps, policy: WorkerPolicy) -> None:
        self.deps = deps
        self.policy = policy
        self._next_allowed: dict[str, float] = {}
        self.storms = StormSender(deps, policy)

    async def run(self) -> None:
        while True:
            try:
                sent = await self.send_round()
            except Exception:
                log.exception("outbox round failed")
                sent = 0
            if sent == 0:
                await wait_for_wake(
                    self.deps.wake.outbox,
                    self._idle_wait(),
                    self.policy.coalesce_seconds,
                )

    def _idle_wait(self) -> float:
        now = self.deps.clock.now()
        soonest = min(
            (t - now for t in self._next_allowed.values() if t > now),
            default=self.policy.poll_seconds,
        )
        return max(0.01, min(self.policy.poll_seconds, soonest))

    async def send_round(self) -> int:
        """One pass over channels with due messages; returns Slack posts made."""
        now = self.deps.clock.now()
        paused = [c for c, t in self._next_allowed.items() if t > now]
        async with self.deps.sessions() as session, session.begin():
            channels = await outbox.next_channels(session, now=now, exclude=paused)
        # A summary whose alerts are all folded has nothing pending in the
        # outbox, but still a post or an upload to make.
        for channel in await self.storms.open_channels(paused):
            if channel not in channels:
                channels.append(channel)
        made = 0
        for channel in channels:
            made += await self._send_channel(channel)
        return made

    async def _send_channel(self, channel: str) -> int:
        deps, policy = self.deps, self.policy
        storm = await self.storms.step(channel)
        if storm.made:
            self._next_allowed[channel] = deps.clock.now() + policy.channel_interval
            return storm.made
        async with deps.sessions() as session, session.begin():
            now = deps.clock.now()
            chosen = await outbox.claim_for_channel(
                session,
                channel=channel,
                claimant=deps.instance_id,
                now=now,
                lease=policy.lease_seconds,
                limit=DIGEST_MAX_ITEMS,
                choose=self._choose,
                # During a storm the alerts gather for the next summary;
                # cards and requests with buttons still go out as they come.
                only=storms.NOT_FOLDABLE if storm.hold else None,
            )
            if not chosen:
                if storm.hold:
                    # Look again at the channel's pace, not at every wake-up
                    # of a storm (each look reads the held alerts' range).
                    self._next_allowed[channel] = now + policy.channel_interval
                return 0
            head = chosen[0]
            parent_key = head.target_key or head.thread_key
            parent_ts: str | None = None
            if parent_key is not None:
                parent = await outbox.find_parent(session, key=parent_key)
                parent_ts = parent.ts
                if parent.unsent:
                    # The message this replies to or edits has not gone out yet.
                    await outbox.defer(
                        session, ids=[_id(head)], until=now + policy.poll_seconds
                    )
                    return 0
        ids = [_id(r) for r in chosen]
        correlation_id.set(head.key)
        try:
            renew = outbox_rows(deps, ids, lease=policy.lease_seconds)
            what = f"outbox rows {ids}"
            async with kept_claim(deps, renew, lease=policy.lease_seconds, what=what):
                return await self._deliver(channel, chosen, parent_ts)
        except TimeoutError as exc:
            # Cut off before the claim could run out (or it was taken over):
            # Slack may have the post, so the next attempt looks first.
            log.warning("gave up sending %s before its claim ran out", head.key)
            await self._failed(channel, ids, exc, head.attempts)
            return 1

    async def _deliver(
        self, channel: str, chosen: list[OutboxMessage], parent_ts: str | None
    ) -> int:
        deps, policy = self.deps, self.policy
        head, ids = chosen[0], [_id(r) for r in chosen]
        if head.kind == "post" and any(outbox.may_have_gone_out(r) for r in chosen):
            try:
                found = await find_posted(self.deps.slack, chosen, parent_ts)
            except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                await self._failed(channel, ids, exc, head.attempts)
                return 1
            if found:
                await self._record_found(chosen, found)
                return 1
        try:
            try:
                ts = await self._send(chosen, parent_ts)
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error in _BAD_METADATA:
                    # Slack refused the key tag (a bug on our side): posting
                    # untagged beats not posting; only a lost answer to this
                    # very post could then repeat it.
                    log.error("Slack refused the metadata of %s (%s)", head.key, error)
                    ts = await self._send(chosen, parent_ts, tagged=False)
                elif error in _BAD_BLOCKS and len(chosen) == 1:
                    # Slack refused our blocks (a bug on our side): the text
                    # alone still says what happened; send that, not nothing.
                    log.error("Slack refused the blocks of %s; sending text", head.key)
                    ts = await self._send(chosen, parent_ts, text_only=True)
                else:
                    raise
        except SlackApiError as exc:
            await self._failed(channel, ids, exc, chosen[0].attempts)
            return 1
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await self._failed(channel, ids, exc, chosen[0].attempts)
            return 1
        self._next_allowed[channel] = deps.clock.now() + policy.channel_interval
        try:
            async with deps.sessions() as session, session.begin():
                await outbox.mark_sent(session, ids=ids, ts=ts, now=deps.clock.now())
        except Exception:
            # Posted, not recorded. Counting a failed attempt makes the next
            # attempt look for the post (tagged with its key) before sending;
            # if even that cannot be stored, the claim runs out and its mark
            # does the same.
            log.exception("Slack has %s (ts %s) but recording it failed", head.key, ts)
            with contextlib.suppress(Exception):
                async with deps.sessions() as session, session.begin():
                    if not await self._still_held(session, ids):
                        return 1
                    await outbox.mark_failed(
                        session,
                        ids=ids,
                        error="posted, but recording it failed",
                        retry_at=deps.clock.now(),
                    )
        return 1

    async def _record_found(
        self, rows: list[OutboxMessage], found: dict[str, str]
    ) -> None:
        """Record what an earlier attempt posted; the rest goes next round."""
        by_ts: dict[str, list[int]] = {}
        for row in rows:
            if row.key in found:
                by_ts.setdefault(found[row.key], []).append(_id(row))
        rest = [_id(r) for r in rows if r.key not in found]
        async with self.deps.sessions() as session, session.begin():
            now = self.deps.clock.now()
            if not await self._still_held(session, [_id(r) for r in rows]):
                return
            for ts, ids in by_ts.items():
                await outbox.mark_sent(session, ids=ids, ts=ts, now=now)
            await outbox.release(session, ids=rest)
        log.info("found %d already posted; not sending them again", len(found))

    async def _still_held(self, session: AsyncSession, ids: list[int]) -> bool:
        """Fencing: whether this process still holds the claim on `ids`,
        renewed and locked for the rest of `session`'s transaction. A
        sender whose lease was taken over leaves the rows to the new
        claimant, which looks in Slack before it sends."""
        held = await outbox.renew_claims(
            session,
            ids=ids,
            claimant=self.deps.instance_id,
            now=self.deps.clock.now(),
            lease=self.policy.lease_seconds,
        )
        if held < len(ids):
            log.warning("outbox rows %s were taken over; leaving them", ids)
            return False
        return True

    def _choose(self, rows: list[OutboxMessage]) -> list[OutboxMessage]:
        run: list[OutboxMessage] = []
        for row in rows:
            if row.kind != "post" or row.digest_line is None or row.thread_key:
                break
            run.append(row)
        if len(run) >= self.policy.digest_threshold:
            return run
        return rows[:1]

    async def _send(
        self,
        rows: list[OutboxMessage],
        parent_ts: str | None,
        *,
        text_only: bool = False,
        tagged: bool = True,
    ) -> str:
        slack = self.deps.slack
        head = rows[0]
        metadata = outbox_metadata(rows) if tagged else None
        if len(rows) > 1:
            text, blocks = build_digest([r.digest_line or "" for r in rows])
            resp = await slack.chat_postMessage(
                channel=head.channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
                metadata=metadata,
            )
            self.deps.metrics.outbox_sent.labels("digest").inc()
            return str(resp["ts"])
        if head.kind == "update":
            resp = await slack.chat_update(
                channel=head.channel,
                ts=parent_ts or "",
                text=head.text,
                blocks=head.blocks or [],
            )
            self.deps.metrics.outbox_sent.labels("update").inc()
            return str(resp["ts"])
        kwargs: dict[str, object] = {}
        if parent_ts is not None:
            kwargs["thread_ts"] = parent_ts
            kwargs["reply_broadcast"] = head.reply_broadcast
        resp = await slack.chat_postMessage(
            channel=head.channel,
            text=head.text,
            blocks=None if text_only else head.blocks,
            unfurl_links=False,
            unfurl_media=False,
            metadata=metadata,
            **kwargs,  # type: ignore[arg-type]
        )
        self.deps.metrics.outbox_sent.labels("single").inc()
        return str(resp["ts"])

    async def _failed(
        self, channel: str, ids: list[int], exc: Exception, attempts: int
    ) -> None:
        deps, policy = self.deps, self.policy
        now = deps.clock.now()
        async with deps.sessions() as session, session.begin():
            if not await self._still_held(session, ids):
                return
            if isinstance(exc, SlackApiError) and exc.response.status_code == 429:
                retry_after = _retry_after(exc)
                self._next_allowed[channel] = now + retry_after
                await outbox.defer(session, ids=ids, until=now + retry_after)
                log.warning("Slack rate-limited %s; waiting %ss", channel, retry_after)
                return
            delay = backoff(attempts, base=policy.retry_base, cap=policy.retry_cap)
            if _outcome_unknown(exc):
                delay = max(delay, policy.unknown_outcome_wait)
            error = (
                str(exc.response.get("error"))
                if isinstance(exc, SlackApiError)
                else type(exc).__name__
            )
            await outbox.mark_failed(
                session, ids=ids, error=error, retry_at=now + delay
            )
            log.warning(
                "Slack post to %s failed (%s); retrying in %.1fs", channel, error, delay
            )


def _outcome_unknown(exc: Exception) -> bool:
    """Whether Slack may have acted although the call failed."""
    if isinstance(exc, SlackApiError):
        return bool(exc.response.status_code >= 500)
    # No connection, no request.
    never_sent = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
    return not isinstance(exc, never_sent)


_BAD_METADATA = frozenset(
    {"invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large"}
)
_BAD_BLOCKS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long"}
)


def _id(row: OutboxMessage) -> int:
    assert row.id is not None
    return row.id


def _retry_after(exc: SlackApiError) -> float:
    value = exc.response.headers.get("Retry-After") or exc.response.headers.get(
        "retry-after"
    )
    try:
        return max(1.0, float(value[0] if isinstance(value, list) else value))
    except (TypeError, ValueError):
        return 1.0
