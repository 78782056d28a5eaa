"""Keeping an outbox claim while its Slack calls run, and letting go in time.

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
from collections.abc import AsyncIterator, Sequence

from bot.deps import Deps
from storage import outbox

log = logging.getLogger(__name__)


def renew_every(lease: float) -> float:
    """Renewals come four times a lease: one can fail and the next still
    renews before the lease runs out; the last quarter is the margin within
    which a cut-off call may still land in Slack."""
    return lease / 4


@contextlib.asynccontextmanager
async def kept_claim(
    deps: Deps, ids: Sequence[int], *, lease: float
) -> AsyncIterator[None]:
    """Renew this process's claim on `ids` while the body runs.

    The body is cancelled (TimeoutError) a quarter lease before the claim
    would run out unrenewed, or at once when another process has taken a
    row over: then whatever it was sending may or may not be in Slack.
    """
    loop = asyncio.get_running_loop()
    beat = renew_every(lease)
    async with asyncio.timeout_at(loop.time() + lease - beat) as window:

        async def renew() -> None:
            while True:
                await asyncio.sleep(beat)
                asked = loop.time()
                try:
                    async with deps.sessions() as session, session.begin():
                        held = await outbox.renew_claims(
                            session,
                            ids=ids,
                            claimant=deps.instance_id,
                            now=deps.clock.now(),
                            lease=lease,
                        )
                except Exception as exc:
                    # The next beat tries again; the window closes if none works.
                    log.warning("could not renew an outbox claim: %r", exc)
                    continue
                if held < len(ids):
                    log.warning("another instance took over outbox rows %s", ids)
                    window.reschedule(loop.time())
                    return
                window.reschedule(asked + lease - beat)

        # Started outside any transaction of ours: its own are short and
        # make no network call.
        renewing = asyncio.create_task(renew(), name="outbox-claim-renewal")
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
