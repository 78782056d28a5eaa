"""The two answers Stripe takes once: submitting evidence and accepting
(closing) the dispute; and who took the dispute on.

A click claims the answer on the row first (one conditional UPDATE, so only
one of racing clicks wins); the Stripe call follows outside any transaction
with an idempotency key, and a call cut short is resent with the same key.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import stripe

from bot.blocks import disputes as blocks
from bot.connect import on_account
from bot.deps import Deps
from bot.dispute_refusals import NotClaimed
from bot.disputes.cards import record_and_show
from bot.disputes.lookup import load
from bot.disputes.state import apply_object, plain, snapshot
from bot.evidence_fields import missing
from bot.stripe_api import call
from storage import disputes as store
from storage.models import Dispute

log = logging.getLogger(__name__)

# A claimed submission or acceptance this old with no answer from Stripe was
# cut short (crash, Stripe unreachable); recovery resends it with its key.
UNFINISHED_AFTER_SECONDS = 120.0


def stripe_may_have_acted(exc: stripe.StripeError) -> bool:
    """No answer, or a server error: the request may have gone through."""
    return isinstance(exc, stripe.APIConnectionError | stripe.APIError)


def submission_key(row: Dispute) -> str:
    # Evidence cannot change while a submission is claimed, so a retry of the
    # claim resends the same key; after a refusal a new revision gets a new one.
    return f"dispute-submit:{row.id}:r{row.evidence_revision}"


def acceptance_key(row: Dispute) -> str:
    return f"dispute-close:{row.id}"


async def claim_submission(deps: Deps, *, dispute_id: str, user_id: str) -> bool:
    async with deps.sessions() as session, session.begin():
        return await store.claim_submission(
            session, dispute_id=dispute_id, user_id=user_id, now=deps.clock.now()
        )


async def claim_acceptance(deps: Deps, *, dispute_id: str, user_id: str) -> bool:
    async with deps.sessions() as session, session.begin():
        return await store.claim_acceptance(
            session, dispute_id=dispute_id, user_id=user_id, now=deps.clock.now()
        )


async def _send_claimed(
    deps: Deps,
    row: Dispute,
    user_id: str,
    *,
    operation: str,
    request: Awaitable[Any],
    release: Callable[..., Awaitable[Any]],
    action: str,
    details: Callable[[Dispute], dict[str, Any]],
    note_key: str,
    note_text: Callable[[Dispute], str],
) -> Dispute:
    """Send a claimed, once-only dispute call (submit or accept) and record it.

    If Stripe refused it outright, the claim is released so it can be tried
    again; if Stripe may have acted, the claim stays and the same idempotency
    key is resent later (finish_unfinished).
    """
    try:
        updated = await call(deps.metrics, operation, request)
    except stripe.StripeError as exc:
        if not stripe_may_have_acted(exc):
            async with deps.sessions() as session, session.begin():
                await release(
                    session, dispute_id=row.id, user_id=user_id, now=deps.clock.now()
                )
        raise
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        await apply_object(session, plain(updated), version=snapshot(now), now=now)
        fresh = await store.get(session, dispute_id=row.id)
        assert fresh is not None
        await record_and_show(
            session,
            deps.settings,
            fresh,
            actor=user_id,
            action=action,
            amount=row.amount,
            currency=row.currency,
            details=details(fresh),
            note_key=note_key,
            note_text=note_text(fresh),
            now=now,
        )
    deps.wake.outbox.set()
    return fresh


async def submit_claimed(deps: Deps, *, dispute_id: str, user_id: str) -> Dispute:
    """Send the claimed submission (`submit=true`), then record who and when."""
    row = await load(deps, dispute_id)
    if row is None or row.submitted_by != user_id:
        raise NotClaimed(dispute_id, user_id, "submission")
    params: Any = {"submit": True}
    key = submission_key(row)
    return await _send_claimed(
        deps,
        row,
        user_id,
        operation="disputes.submit",
        request=deps.stripe.v1.disputes.update_async(
            row.id, params, on_account(row.account, {"idempotency_key": key})
        ),
        release=store.release_submission,
        action="dispute.evidence_submitted",
        details=lambda fresh: {
            "fields": sorted(k for k, v in fresh.stripe_evidence.items() if v),
            "missing": [f.name for f in missing(row.reason, fresh.stripe_evidence)],
            "idempotency_key": key,
        },
        note_key=f"dispute-submitted:{row.id}",
        note_text=blocks.submitted_note,
    )


async def accept_claimed(deps: Deps, *, dispute_id: str, user_id: str) -> Dispute:
    """Close the dispute on Stripe (concede it), then record who and when."""
    row = await load(deps, dispute_id)
    if row is None or row.accepted_by != user_id:
        raise NotClaimed(dispute_id, user_id, "acceptance")
    key = acceptance_key(row)
    return await _send_claimed(
        deps,
        row,
        user_id,
        operation="disputes.close",
        request=deps.stripe.v1.disputes.close_async(
            row.id, None, on_account(row.account, {"idempotency_key": key})
        ),
        release=store.release_acceptance,
        action="dispute.accepted",
        details=lambda _fresh: {"idempotency_key": key},
        note_key=f"dispute-accepted:{row.id}",
        note_text=blocks.accepted_note,
    )


async def finish_unfinished(deps: Deps) -> None:
    """Resend claimed submissions and acceptances that never got Stripe's answer
    (a crash, or Stripe unreachable), with the same idempotency keys."""
    async with deps.sessions() as session:
        rows = await store.unfinished_calls(
            session, before=deps.clock.now() - UNFINISHED_AFTER_SECONDS
        )
    for row in rows:
        try:
            if row.submitted_by is not None:
                await submit_claimed(deps, dispute_id=row.id, user_id=row.submitted_by)
            elif row.accepted_by is not None:
                await accept_claimed(deps, dispute_id=row.id, user_id=row.accepted_by)
        except stripe.StripeError as exc:
            log.warning(
                "finishing the Stripe call for %s failed: %s",
                row.id,
                type(exc).__name__,
            )


@dataclass(frozen=True)
class Taken:
    row: Dispute | None
    taken: bool
    previous: str | None


async def take(deps: Deps, *, dispute_id: str, user_id: str) -> Taken:
    """Someone claims the dispute: reminders mention them from now on."""
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        taken, previous = await store.take(
            session, dispute_id=dispute_id, user_id=user_id, now=now
        )
        row = await store.get(session, dispute_id=dispute_id)
        if not taken or row is None or previous == user_id:
            return Taken(row, taken, previous)
        await record_and_show(
            session,
            deps.settings,
            row,
            actor=user_id,
            action="dispute.taken",
            details={"previous": previous},
            note_key=f"dispute-taken:{dispute_id}:{uuid.uuid4().hex}",
            note_text=blocks.taken_note(user_id, previous),
            now=now,
        )
    deps.wake.outbox.set()
    return Taken(row, taken, previous)
