"""Keeping a claim (outbox rows, a storm summary) while its Slack calls run,
and letting go in time.

A claim is a short lease (a few seconds), so that what a killed process held
is taken over within seconds (DESIGN invariant 9). A live sender keeps its
lease by renewing it; a sender that cannot renew (its database is away, its
process stalled) stops its Slack calls before the lease can run out, so no
post of its own is still in flight when another process takes the rows over
and looks in the channel for what was already posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.deps import Deps
from storage import outbox, storms

log = logging.getLogger(__name__)

# Renews a claim in the given session's transaction (extended to now plus the
# lease); whether this process still held all of it.
Renew = Callable[[AsyncSession], Awaitable[bool]]


def outbox_rows(deps: Deps, ids: Sequence[int], *, lease: float) -> Renew:
    """The renewal of this process's claim on outbox rows `ids`."""

    async def renew(session: AsyncSession) -> bool:
        held = await outbox.renew_claims(
            session,
            ids=ids,
            claimant=deps.instance_id,
            now=deps.clock.now(),
            lease=lease,
        )
        return held == len(ids)

    return renew


def storm_summary(deps: Deps, summary_id: int, *, lease: float) -> Renew:
    """The renewal of this process's claim on a storm summary."""

    async def renew(session: AsyncSession) -> bool:
        return await storms.renew_claim(
            session,
            summary_id=summary_id,
            claimant=deps.instance_id,
            now=deps.clock.now(),
            lease=lease,
        )

    return renew


def renew_every(lease: float) -> float:
    """Renewals come four times a lease: one can fail and the next still
    renews before the lease runs out; the last quarter is the margin within
    which a cut-off call may still land in Slack."""
    return lease / 4


@contextlib.asynccontextmanager
async def kept_claim(
    deps: Deps, renew_claim: Renew, *, lease: float, what: str
) -> AsyncIterator[None]:
    """Renew this process's claim (`renew_claim`, on `what`) while the body runs.

    The body is cancelled (TimeoutError) a quarter lease before the claim
    would run out unrenewed, or at once when another process has taken a
    row over: then whatever it was sending may or may not be in Slack.
    """
    loop = asyncio.get_running_loop()
    beat = renew_every(lease)
    busy = stopping = False
    async with asyncio.timeout_at(loop.time() + lease - beat) as window:

        async def renew() -> None:
            nonlocal busy
            while True:
                await asyncio.sleep(beat)
                asked = loop.time()
                busy = True
                try:
                    async with deps.sessions() as session, session.begin():
                        held = await renew_claim(session)
                except Exception as exc:
                    # The next beat tries again; the window closes if none works.
                    log.warning("could not renew the claim on %s: %r", what, exc)
                    continue
                finally:
                    busy = False
                if stopping:
                    return  # the body is over: nothing left to cut off
                if not held:
                    log.warning("another instance took over %s", what)
                    window.reschedule(loop.time())
                    return
                window.reschedule(asked + lease - beat)

        # Started outside any transaction of ours: its own are short and
        # make no network call.
        renewing = asyncio.create_task(renew(), name="claim-renewal")
        try:
            yield
        finally:
            stopping = True
            try:
                if busy:
                    # A transaction cancelled halfway can leave its pooled
                    # connection inside it (aiosqlite): let a renewal under
                    # way finish, for a beat at most.
                    await asyncio.wait([renewing], timeout=beat)
            finally:
                renewing.cancel()
                # wait(), not `await renewing`: a cancellation of this task
                # (the window closing, a shutdown) still goes through.
                await asyncio.wait([renewing])
