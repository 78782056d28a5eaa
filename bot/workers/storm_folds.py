"""Folding a channel's storm of alerts into a storm summary, and writing
the summary's words (see storage.storms for the states and the fencing)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from bot.blocks.alerts.storm import Unfolded, build_storm_summary
from bot.deps import Deps
from bot.storm_csv import StormRow, build_csv
from bot.workers.claim_lease import kept_claim, storm_summary
from bot.workers.policy import WorkerPolicy
from storage import storms

log = logging.getLogger(__name__)

# One summary covers at most this many alerts (a CSV of a few MB); a larger
# storm gets a second summary in the next round.
FOLD_MAX = 50_000
# Alerts folded per transaction, and read per transaction for the words and
# the CSV: each holds SQLite's one connection (and webhook intake) briefly.
FOLD_SLICE = 100
ROWS_PAGE = 500
# How many never-folded messages a summary names at most.
NAMED_MAX = 50
_STRIPE_ID = re.compile(r"\b(?:dp|du|issfr|re|pi|ch|py|po|cus|evt)_[A-Za-z0-9]+")


class StormFolder:
    """Folds a channel's waiting alerts; writes a building summary's words."""

    def __init__(self, deps: Deps, policy: WorkerPolicy) -> None:
        self.deps = deps
        self.policy = policy

    async def fold(self, channel: str) -> bool:
        """Fold the channel's waiting alerts into a new summary, a slice per
        transaction (see storage.storms), then write its words."""
        deps, me, lease = self.deps, self.deps.instance_id, self.policy.lease_seconds
        async with deps.sessions() as session, session.begin():
            fold = await storms.begin_fold(
                session, channel=channel, claimant=me, now=deps.clock.now(), lease=lease
            )
        after = total = 0
        while total < FOLD_MAX:
            async with deps.sessions() as session, session.begin():
                sliced = await storms.fold_slice(
                    session,
                    fold=fold,
                    channel=channel,
                    claimant=me,
                    now=deps.clock.now(),
                    lease=lease,
                    after=after,
                    limit=min(FOLD_SLICE, FOLD_MAX - total),
                )
            if sliced is None:
                taken_over(fold.key)
                return False
            count, last = sliced
            if last == after:
                break  # no more waiting alerts up to the fold's bound
            total, after = total + count, last
        return await self.build(fold.summary_id, fold.key, channel)

    async def build(self, summary_id: int, key: str, channel: str) -> bool:
        """Write the words of a building summary this process holds (its own
        fold, or one whose folder died): then it is ready to post."""
        deps, me = self.deps, self.deps.instance_id
        try:
            async with kept(self.deps, self.policy, summary_id, key):
                rows = await self.rows(summary_id)
                if not rows:
                    async with deps.sessions() as session, session.begin():
                        await storms.drop_empty(
                            session, summary_id=summary_id, claimant=me
                        )
                    return False
                async with deps.sessions() as session, session.begin():
                    waiting = await storms.unfolded(
                        session, channel=channel, limit=NAMED_MAX
                    )
                names = [_name(k, text) for k, text in waiting]
                # Thousands of rows: worked through in a thread, so the
                # event loop (and every webhook's 200) gets its turns.
                text, blocks = await asyncio.to_thread(
                    _summarize, rows, Unfolded(len(names), names)
                )
        except TimeoutError:
            # The claim could not be kept: its lease runs out, and whoever
            # claims the summary next writes its words.
            log.warning("storm summary %s: its words were cut off", key)
            return False
        async with deps.sessions() as session, session.begin():
            written = await storms.finish_building(
                session,
                summary_id=summary_id,
                claimant=me,
                text=text,
                blocks=blocks,
                events=len(rows),
            )
        if not written:
            taken_over(key)
            return False
        deps.metrics.outbox_sent.labels("storm_folded").inc(len(rows))
        log.info("folded %d alerts in %s into %s", len(rows), channel, key)
        return True

    async def rows(self, summary_id: int) -> list[storms.FoldedRow]:
        """A summary's alerts, a page per transaction (they no longer change:
        folding into it has stopped)."""
        rows: list[storms.FoldedRow] = []
        while True:
            async with self.deps.sessions() as session, session.begin():
                page = await storms.rows_page(
                    session,
                    summary_id=summary_id,
                    after=rows[-1].id if rows else 0,
                    limit=ROWS_PAGE,
                )
            rows += page
            if len(page) < ROWS_PAGE:
                return rows


def kept(
    deps: Deps, policy: WorkerPolicy, summary_id: int, key: str
) -> AbstractAsyncContextManager[None]:
    """Slack may take longer than the lease (a large CSV): the claim is
    renewed meanwhile, and the calls are cut off (TimeoutError) before
    it could run out or once it is taken over, so no other instance
    posts or uploads alongside. The outcome is written after, fenced."""
    lease = policy.lease_seconds
    renew = storm_summary(deps, summary_id, lease=lease)
    return kept_claim(deps, renew, lease=lease, what=key)


def taken_over(key: str) -> None:
    log.warning("storm summary %s was taken over; leaving it to its new claimant", key)


def _summarize(
    rows: Sequence[storms.FoldedRow], unfolded: Unfolded
) -> tuple[str, list[dict[str, Any]]]:
    return build_storm_summary([_row(r.key, r.facts) for r in rows], unfolded)


def csv_content(rows: Sequence[storms.FoldedRow]) -> bytes:
    return build_csv(_row(r.key, r.facts) for r in rows)


def _row(key: str, facts: dict[str, object] | None) -> StormRow:
    if facts is not None:
        return StormRow.from_facts(facts)
    # Queued before facts were kept: the event ID is in the key.
    event_id = key.removeprefix("alert:")
    return StormRow(0, event_id, "", None, None, None, None, None)


def _name(key: str, text: str) -> str:
    """A never-folded message by the Stripe object it is about."""
    found = _STRIPE_ID.search(text)
    return found.group(0) if found else key
