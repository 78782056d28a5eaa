"""The event worker: stored Stripe events -> their handler, after Stripe's 200."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.backoff import backoff
from bot.blocks import escape
from bot.connect import learn_names, name_known, payload_account
from bot.deps import Deps
from bot.event_router import EventContext, EventRouter, Round
from bot.logs import correlation_id
from bot.workers.policy import WorkerPolicy, wait_for_wake
from storage import events as event_store
from storage import outbox
from storage.events import DueEvent

log = logging.getLogger(__name__)


# How many held-back event IDs to remember (bot.connect names).
_DEFERRED_MAX = 10_000


def _never() -> bool:
    return False


# The fewest events a round claims, however busy intake is.
_CLAIM_MIN = 10
# Payloads parsed between two looks at the event loop.
_PARSE_CHUNK = 25


async def _parse_all(due: list[DueEvent]) -> list[dict[str, Any] | Exception]:
    """The round's events parsed, giving the event loop a turn between
    chunks: 200 payloads at once held webhook 200s back for milliseconds."""
    parsed: list[dict[str, Any] | Exception] = []
    for start in range(0, len(due), _PARSE_CHUNK):
        if start:
            await asyncio.sleep(0)
        parsed += [_parse(e.payload) for e in due[start : start + _PARSE_CHUNK]]
    return parsed


def _parse(payload: str) -> dict[str, Any] | Exception:
    """The stored event, or why it cannot be read (raised when its turn comes)."""
    try:
        event = json.loads(payload)
    except ValueError as exc:
        return exc
    if not isinstance(event, dict):
        return TypeError("the stored event is not a JSON object")
    return event


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
        # Connect accounts whose names the next round reads first, and the
        # events already held back once for one.
        self._wanted_names: set[str] = set()
        self._deferred: set[str] = set()
        # How many due events the next round claims (_next_claim).
        self._claim = policy.event_batch

    async def run(self) -> None:
        policy = self.policy
        while True:
            try:
                await self.process_round()
            except Exception:
                log.exception("event worker round failed")
                self._more = False
            if not self._more:
                await wait_for_wake(
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
        deps = self.deps
        if self._wanted_names:
            # Outside any transaction: names the last round stopped for.
            wanted, self._wanted_names = self._wanted_names, set()
            await learn_names(deps, wanted)
        started = time.perf_counter()
        done: list[DueEvent] = []
        due: list[DueEvent] = []
        self._more = False
        try:
            async with deps.sessions() as session, session.begin():
                now = deps.clock.now()
                claim = self._claim
                due = await event_store.lock_due_events(session, now=now, limit=claim)
                parsed = await _parse_all(due)
                round_ = Round([p for p in parsed if not isinstance(p, Exception)])
                for event, payload in zip(due, parsed, strict=True):
                    if done and self._should_commit(started):
                        break
                    if self._name_first(event):
                        break
                    await self._dispatch(session, payload, now, round_)
                    done.append(event)
                    # An alert-only event makes no database call (its alert
                    # is queued with the round): without this, a round would
                    # hold the event loop for its whole budget, and every
                    # webhook's 200 would wait behind it.
                    await asyncio.sleep(0)
                self._more = len(done) < len(due) or len(due) == claim
                self._claim = self._next_claim(claim, len(done), len(due))
                if done:
                    await self._finish(session, round_, now)
                    await event_store.mark_processed(
                        session, event_ids=[e.id for e in done], now=now
                    )
        except Exception:
            self._more = True  # the rest of the round is still due
            return await self._process_alone(due[0] if due else None)
        for event in done:
            self._deferred.discard(event.id)
            deps.metrics.events_processed.labels(event.type).inc()
        if done:
            deps.wake.outbox.set()
        return len(done)

    def _name_first(self, event: DueEvent) -> bool:
        """Stop the round before an event from a connected account whose name
        we have not read: the next round reads it (outside a transaction),
        then takes the event, so its alert names the account. Once per event:
        a name Stripe will not give is no reason to hold the event back."""
        account = payload_account(event.payload)
        if account is None or event.id in self._deferred:
            return False
        if name_known(self.deps, account):
            return False
        if len(self._deferred) >= _DEFERRED_MAX:
            # Events another instance took stay here: forget them now and
            # then (the worst case is one more short wait for a name).
            self._deferred.clear()
        self._deferred.add(event.id)
        self._wanted_names.add(account)
        return True

    def _next_claim(self, claim: int, done: int, due: int) -> int:
        """How many events the next round claims. A round cut short by
        webhook intake claims about what it got through: claiming (and
        reading the payloads of) 200 events to process a handful, round
        after round, was most of what intake waited for on SQLite. Back to
        the full batch, doubling, once rounds finish what they claim."""
        if done < due:
            return max(_CLAIM_MIN, min(claim, 2 * done))
        return min(self.policy.event_batch, 2 * claim)

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
                payload = _parse(locked[0].payload)
                alone = Round([] if isinstance(payload, Exception) else [payload])
                await self._dispatch(session, payload, now, alone)
                await self._finish(session, alone, now)
                await event_store.mark_processed(session, event_ids=[event_id], now=now)
        except Exception as exc:
            deps.metrics.event_failures.labels(event_type).inc()
            log.error("processing %s (%s) failed", event_id, event_type, exc_info=exc)
            await self._record_failure(event_id, event_type, first.attempts, exc)
            return 1
        deps.metrics.events_processed.labels(event_type).inc()
        deps.wake.outbox.set()
        return 1

    async def _dispatch(
        self,
        session: AsyncSession,
        event: dict[str, Any] | Exception,
        now: float,
        round_: Round,
    ) -> None:
        if isinstance(event, Exception):
            raise event  # its round is undone; alone, it is recorded as failed
        correlation_id.set(str(event.get("id")))
        await self.router.dispatch(EventContext(self.deps, session, event, now, round_))

    @staticmethod
    async def _finish(session: AsyncSession, round_: Round, now: float) -> None:
        """The round's alerts in one statement, then the work its handlers
        left for its end (which may edit those alerts)."""
        await outbox.enqueue_many(session, messages=round_.alerts, now=now)
        await round_.finish(session, now)

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
