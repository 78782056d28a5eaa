"""Background workers: stored Stripe events -> handlers, outbox -> Slack."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backoff import backoff
from bot.blocks import escape
from bot.blocks.alerts import DIGEST_MAX_ITEMS, build_digest
from bot.deps import Deps
from bot.event_router import EventContext, EventRouter
from bot.logs import correlation_id
from storage import events as event_store
from storage import outbox
from storage.events import DueEvent
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerPolicy:
    """Timings; tests shorten them, production keeps the defaults."""

    poll_seconds: float = 1.0
    lease_seconds: float = 120.0
    # Slack allows about one message per second per channel.
    channel_interval: float = 1.0
    # With more alerts than this waiting in a channel, they go out as digests.
    digest_threshold: int = 4
    retry_base: float = 1.0
    retry_cap: float = 300.0
    event_batch: int = 10
    # How long one event transaction may run before it commits.
    batch_seconds: float = 0.01
    # A transaction that has run this long commits early when webhook intake
    # is waiting for the database (SQLite has one writer): Stripe's 200 goes
    # first, processing continues in the next round.
    yield_after_seconds: float = 0.002
    # After a wake-up, wait this long before working, so that events (or
    # messages) arriving together share one round and one transaction
    # instead of one each.
    coalesce_seconds: float = 0.05
    # After this many failed attempts an event is reported in ALERT_CHANNEL
    # (once); it keeps being retried.
    report_failures_after: int = 5
    # After a post whose outcome we could not see (timeout, dropped
    # connection, 5xx), wait at least this long before looking for it in the
    # channel and sending again: a slow Slack may still be making it.
    unknown_outcome_wait: float = 30.0


async def _wait(event: asyncio.Event, seconds: float, coalesce: float) -> None:
    # Not wait_for: on Python 3.11 it swallows a cancel that arrives as the
    # event is set, and the worker then never stops (shutdown hangs).
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
            if coalesce > 0:
                await asyncio.sleep(coalesce)
    event.clear()


def _never() -> bool:
    return False


class EventWorker:
    """Processes stored events after Stripe has had its 200."""

    def __init__(
        self,
        deps: Deps,
        router: EventRouter,
        policy: WorkerPolicy,
        *,
        intake_waiting: Callable[[], bool] | None = None,
    ) -> None:
        self.deps = deps
        self.router = router
        self.policy = policy
        self.intake_waiting = intake_waiting or _never
        # Whether the last round stopped before it ran out of due events.
        self._more = False

    async def run(self) -> None:
        policy = self.policy
        while True:
            try:
                await self.process_round()
            except Exception:
                log.exception("event worker round failed")
                self._more = False
            if not self._more:
                await _wait(
                    self.deps.wake.events, policy.poll_seconds, policy.coalesce_seconds
                )

    async def process_round(self) -> int:
        """Process due events; returns how many were tried.

        Many events share one transaction (one commit keeps up with bursts);
        the time budget keeps it, and SQLite's write lock that webhook intake
        waits for, short, and on SQLite it commits early when a delivery is
        waiting. If any event fails, the transaction is undone and that
        round's first event is processed alone, so one bad event can neither
        hold back nor undo the others.
        """
        deps, policy = self.deps, self.policy
        started = time.perf_counter()
        done: list[DueEvent] = []
        due: list[DueEvent] = []
        self._more = False
        try:
            async with deps.sessions() as session, session.begin():
                now = deps.clock.now()
                due = await event_store.lock_due_events(
                    session, now=now, limit=policy.event_batch
                )
                for event in due:
                    if done and self._should_commit(started):
                        break
                    await self._dispatch(session, event.payload, now)
                    done.append(event)
                self._more = len(done) < len(due) or len(due) == policy.event_batch
                if done:
                    await event_store.mark_processed(
                        session, event_ids=[e.id for e in done], now=now
                    )
        except Exception:
            self._more = True  # the rest of the round is still due
            return await self._process_alone(due[0] if due else None)
        for event in done:
            deps.metrics.events_processed.labels(event.type).inc()
        if done:
            deps.wake.outbox.set()
        return len(done)

    def _should_commit(self, started: float) -> bool:
        elapsed = time.perf_counter() - started
        if elapsed > self.policy.batch_seconds:
            return True
        return elapsed > self.policy.yield_after_seconds and self.intake_waiting()

    async def _process_alone(self, first: DueEvent | None) -> int:
        if first is None:
            raise RuntimeError("no event to retry alone")
        deps = self.deps
        event_id, event_type = first.id, first.type
        try:
            async with deps.sessions() as session, session.begin():
                now = deps.clock.now()
                locked = await event_store.lock_due_events(
                    session, now=now, limit=1, only=event_id
                )
                if not locked:
                    return 0  # another instance has it, or it is done
                await self._dispatch(session, locked[0].payload, now)
                await event_store.mark_processed(session, event_ids=[event_id], now=now)
        except Exception as exc:
            deps.metrics.event_failures.labels(event_type).inc()
            log.error("processing %s (%s) failed", event_id, event_type, exc_info=exc)
            await self._record_failure(event_id, event_type, first.attempts, exc)
            return 1
        deps.metrics.events_processed.labels(event_type).inc()
        deps.wake.outbox.set()
        return 1

    async def _dispatch(self, session: AsyncSession, payload: str, now: float) -> None:
        event = json.loads(payload)
        correlation_id.set(str(event.get("id")))
        await self.router.dispatch(EventContext(self.deps, session, event, now))

    async def _record_failure(
        self, event_id: str, event_type: str, attempts: int, exc: Exception
    ) -> None:
        deps, policy = self.deps, self.policy
        async with deps.sessions() as session, session.begin():
            now = deps.clock.now()
            delay = backoff(attempts, base=policy.retry_base, cap=policy.retry_cap)
            attempts = await event_store.mark_failed(
                session,
                event_id=event_id,
                error=f"{type(exc).__name__}: {exc}",
                retry_at=now + delay,
            )
            if attempts == policy.report_failures_after:
                await outbox.enqueue(
                    session,
                    key=f"event-failing:{event_id}",
                    channel=deps.settings.ALERT_CHANNEL,
                    text=(
                        f":warning: Stripe event `{escape(event_id)}` "
                        f"({escape(event_type)}) failed {attempts} times; "
                        "stripe-ops keeps retrying it. Logs say why "
                        f"(`{escape(type(exc).__name__)}`)."
                    ),
                    now=now,
                )


class OutboxSender:
    """Sends queued Slack messages; never drops one, paces each channel."""

    def __init__(self, deps: Deps, policy: WorkerPolicy) -> None:
        self.deps = deps
        self.policy = policy
        self._next_allowed: dict[str, float] = {}

    async def run(self) -> None:
        while True:
            try:
                sent = await self.send_round()
            except Exception:
                log.exception("outbox round failed")
                sent = 0
            if sent == 0:
                await _wait(
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
        made = 0
        for channel in channels:
            made += await self._send_channel(channel)
        return made

    async def _send_channel(self, channel: str) -> int:
        deps, policy = self.deps, self.policy
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
            )
            if not chosen:
                return 0
            head = chosen[0]
            parent_key = head.target_key or head.thread_key
            parent_ts: str | None = None
            if parent_key is not None:
                exists, parent_ts = await outbox.parent_ts(session, key=parent_key)
                if exists and parent_ts is None:
                    # The message this replies to or edits has not gone out yet.
                    await outbox.defer(
                        session, ids=[_id(head)], until=now + policy.poll_seconds
                    )
                    return 0
        ids = [_id(r) for r in chosen]
        correlation_id.set(head.key)
        if head.kind == "post" and any(outbox.may_have_gone_out(r) for r in chosen):
            try:
                found = await self._find_posted(chosen, parent_ts)
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
                    await outbox.mark_failed(
                        session,
                        ids=ids,
                        error="posted, but recording it failed",
                        retry_at=deps.clock.now(),
                    )
        return 1

    async def _find_posted(
        self, rows: list[OutboxMessage], parent_ts: str | None
    ) -> dict[str, str]:
        """key -> ts of those `rows` Slack already shows (a post tagged with the
        key in its metadata), from the channel's latest messages or the
        thread. Empty when the conversation cannot be read (a missing
        `*:history` scope): then sending again is the only way not to lose
        the message, and a repeat is possible."""
        slack = self.deps.slack
        wanted = {r.key for r in rows}
        found: dict[str, str] = {}
        channel = rows[0].channel
        try:
            if channel[:1] in ("U", "W"):
                # A DM queued under the user's ID; history wants the D… ID.
                opened = await slack.conversations_open(users=channel)
                channel = str(opened["channel"]["id"])
            cursor: str | None = None
            for _ in range(HISTORY_PAGES):
                if parent_ts is not None:
                    resp = await slack.conversations_replies(
                        channel=channel,
                        ts=parent_ts,
                        include_all_metadata=True,
                        limit=HISTORY_PAGE_SIZE,
                        cursor=cursor,
                    )
                else:
                    resp = await slack.conversations_history(
                        channel=channel,
                        include_all_metadata=True,
                        limit=HISTORY_PAGE_SIZE,
                        cursor=cursor,
                    )
                for message in resp.get("messages") or []:
                    for key in _outbox_keys(message) & wanted:
                        found.setdefault(key, str(message["ts"]))
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if found.keys() >= wanted or not cursor:
                    break
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error not in _UNREADABLE:
                raise
            log.warning(
                "cannot read %s to look for %s (%s); sending it again, "
                "which may show it twice",
                channel,
                rows[0].key,
                error,
            )
            return {}
        return found

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
            for ts, ids in by_ts.items():
                await outbox.mark_sent(session, ids=ids, ts=ts, now=now)
            await outbox.release(session, ids=rest)
        log.info("found %d already posted; not sending them again", len(found))

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


# Every post carries its outbox key(s) in Slack message metadata, so that a
# post whose answer we never saw can be found instead of sent again.
OUTBOX_EVENT_TYPE = "stripe_ops_outbox"
HISTORY_PAGE_SIZE = 200
# How far back a lost answer is looked for: the channel's latest 1,000
# messages (an earlier attempt is at most a lease or a retry wait ago).
HISTORY_PAGES = 5
# Errors that say the conversation cannot be read by this app (as opposed to
# Slack being down, which is retried).
_UNREADABLE = frozenset(
    {
        "missing_scope",
        "not_in_channel",
        "channel_not_found",
        "thread_not_found",
        "access_denied",
        "not_allowed_token_type",
        "team_access_not_granted",
    }
)


def outbox_metadata(rows: list[OutboxMessage]) -> dict[str, object]:
    """Slack message metadata naming every outbox row the post carries."""
    return {
        "event_type": OUTBOX_EVENT_TYPE,
        "event_payload": {"keys": "\n".join(r.key for r in rows)},
    }


def _outbox_keys(message: dict[str, object]) -> set[str]:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict):
        return set()
    if metadata.get("event_type") != OUTBOX_EVENT_TYPE:
        return set()
    payload = metadata.get("event_payload")
    keys = payload.get("keys") if isinstance(payload, dict) else None
    return set(keys.split("\n")) if isinstance(keys, str) else set()


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
