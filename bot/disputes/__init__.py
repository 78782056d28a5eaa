"""Disputes, one step per module, in the order a dispute lives:

- `state`: Stripe objects to rows (the newest object wins)
- `cards`: the card in Slack and its thread, queued in the outbox
- `events`: an event or an API read applied, and its card posted or edited
- `lookup`: reading disputes from the database and from Stripe
- `reconcile`: repairing missed events from Stripe's listing; the first sync
- `customers`: who paid, read from the charge
- `evidence`: the form's starting values, and staging evidence on Stripe
- `answers`: submitting and accepting, the once-only Stripe calls; Take
- `reminders`: deadline reminders in the card's thread

The evidence field catalogue is `bot.evidence_fields` and the refusals are
`bot.dispute_refusals`: the builders read both without importing this package.
Handlers use the names below; Block Kit comes from `bot.blocks.disputes`.
"""

from __future__ import annotations

from bot.dispute_refusals import NotAnswerable, NotClaimed, UnknownDispute
from bot.disputes.answers import (
    UNFINISHED_AFTER_SECONDS,
    Taken,
    accept_claimed,
    acceptance_key,
    claim_acceptance,
    claim_submission,
    finish_unfinished,
    stripe_may_have_acted,
    submission_key,
    submit_claimed,
    take,
)
from bot.disputes.cards import (
    queue_card,
    queue_card_edit,
    queue_thread_reply,
    render_card,
)
from bot.disputes.customers import CUSTOMER_BATCH, fill_in_customers
from bot.disputes.events import on_event, on_snapshot
from bot.disputes.evidence import (
    EvidenceDraft,
    Saved,
    evidence_key,
    open_evidence,
    prefill_from_charge,
    refuse_unless_answerable,
    save_evidence,
)
from bot.disputes.lookup import answerable, load, lookup
from bot.disputes.reconcile import (
    RECONCILE_LOOKBACK_DAYS,
    RECONCILE_PAGE_SIZE,
    SYNC_NAME,
    first_sync_done,
    reconcile,
)
from bot.disputes.reminders import (
    REMINDERS_PER_SCAN,
    Scanned,
    scan_reminders,
    send_due_reminders,
)
from bot.disputes.state import (
    CREATED_EVENT,
    EVENT_TYPES,
    Applied,
    apply_object,
    customer_of,
    dispute_id,
    object_values,
    snapshot,
    transient_row,
)
from bot.evidence_fields import (
    EVIDENCE_FIELDS,
    FILE_FIELDS,
    REASON_FIELDS,
    EvidenceField,
    EvidenceKind,
    checklist,
    missing,
    modal_fields,
    recommended_fields,
)
from storage.dispute_status import ANSWERABLE, CLOSED, UNDER_REVIEW
from storage.dispute_status import is_answerable as can_answer

# Today's name for a reply in the card's thread (handlers/stripe_events uses it).

__all__ = [
    "ANSWERABLE",
    "CLOSED",
    "CREATED_EVENT",
    "CUSTOMER_BATCH",
    "EVENT_TYPES",
    "EVIDENCE_FIELDS",
    "FILE_FIELDS",
    "REASON_FIELDS",
    "RECONCILE_LOOKBACK_DAYS",
    "RECONCILE_PAGE_SIZE",
    "REMINDERS_PER_SCAN",
    "SYNC_NAME",
    "UNDER_REVIEW",
    "UNFINISHED_AFTER_SECONDS",
    "Applied",
    "EvidenceDraft",
    "EvidenceField",
    "EvidenceKind",
    "NotAnswerable",
    "NotClaimed",
    "Saved",
    "Scanned",
    "Taken",
    "UnknownDispute",
    "accept_claimed",
    "acceptance_key",
    "answerable",
    "apply_object",
    "can_answer",
    "checklist",
    "claim_acceptance",
    "claim_submission",
    "customer_of",
    "dispute_id",
    "evidence_key",
    "fill_in_customers",
    "finish_unfinished",
    "first_sync_done",
    "load",
    "lookup",
    "missing",
    "modal_fields",
    "object_values",
    "on_event",
    "on_snapshot",
    "open_evidence",
    "prefill_from_charge",
    "queue_card",
    "queue_card_edit",
    "queue_thread_reply",
    "recommended_fields",
    "reconcile",
    "refuse_unless_answerable",
    "render_card",
    "save_evidence",
    "scan_reminders",
    "send_due_reminders",
    "snapshot",
    "stripe_may_have_acted",
    "submission_key",
    "submit_claimed",
    "take",
    "transient_row",
]
