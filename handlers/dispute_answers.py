"""Submitting evidence and accepting a dispute: the two answers Stripe takes once.

Each has a button on the card (handlers/actions) that opens a confirmation,
and the confirmation (handlers/views) that claims the answer and sends it. The
steps are the same for both; what differs is described here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import disputes
from bot.access import is_manager, is_support
from bot.blocks import disputes as blocks
from bot.config import Settings
from bot.deps import Deps
from bot.dispute_refusals import OnlyManagersAccept, OnlySupportAnswers
from bot.evidence_fields import EVIDENCE_FIELDS, missing
from bot.refusals import Refused
from storage.models import Dispute


@dataclass(frozen=True)
class Answer:
    title: str
    # Who may give it (checked at the button and again at the confirmation),
    # and what the others are told.
    allowed: Callable[[Deps, str], Awaitable[bool]]
    refusal: Callable[[Settings], Refused]
    confirmation: Callable[[Deps, Dispute], dict[str, Any]]
    # deps, *, dispute_id, user_id: True for the one claimant.
    claim: Callable[..., Awaitable[bool]]
    # deps, *, dispute_id, user_id: the Stripe call, for the claimant.
    send: Callable[..., Awaitable[Dispute]]
    sending: str  # shown while Stripe answers
    failed: str  # "… failed" when Stripe refuses
    done_title: str
    done_note: Callable[[Dispute], str]


SUBMIT = Answer(
    title="Submit evidence",
    allowed=is_support,
    refusal=lambda _settings: OnlySupportAnswers(),
    confirmation=lambda deps, row: blocks.submit_modal(
        row,
        missing=missing(row.reason, row.stripe_evidence),
        fields=EVIDENCE_FIELDS,
        now=deps.clock.now(),
    ),
    claim=disputes.claim_submission,
    send=disputes.submit_claimed,
    sending="Submitting the evidence to Stripe…",
    failed="the submission",
    done_title="Evidence submitted",
    done_note=blocks.submitted_note,
)

ACCEPT = Answer(
    title="Accept dispute",
    allowed=is_manager,
    refusal=lambda settings: OnlyManagersAccept(
        tuple(settings.MANAGER_USER_IDS), settings.MANAGER_USERGROUP
    ),
    confirmation=lambda deps, row: blocks.accept_modal(row, now=deps.clock.now()),
    claim=disputes.claim_acceptance,
    send=disputes.accept_claimed,
    sending="Closing the dispute on Stripe…",
    failed="closing the dispute",
    done_title="Dispute accepted",
    done_note=blocks.accepted_note,
)
