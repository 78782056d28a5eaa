"""The tables. Times we set are epoch seconds (float); Stripe's stay its ints.

Money columns are integer minor units, with the ISO currency beside them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Identity,
    Index,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

# Disputes that may still get a deadline reminder: answerable (see
# storage.dispute_status), nothing submitted or accepted.
NAG_CONDITION = (
    "status IN ('needs_response', 'warning_needs_response') "
    "AND submitted_by IS NULL AND accepted_by IS NULL AND submission_count = 0"
)


class StripeEvent(SQLModel, table=True):
    """A verified webhook delivery, stored before Stripe gets its 200."""

    __tablename__ = "stripe_event"

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=255)
    livemode: bool = False
    created: int = Field(sa_type=BigInteger)
    object_id: str | None = Field(default=None, max_length=255)
    payload: str = Field(sa_type=Text)
    received_at: float
    # pending -> processed; failures stay pending with a later next_attempt_at.
    # The worker holds due rows with a row lock for its transaction (SKIP
    # LOCKED), so there is no claim column: a crash releases them by itself.
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str | None = Field(default=None, sa_type=Text)
    processed_at: float | None = None
    # The alert rule that took the event (Rule.key: its number and a digest
    # of it, so an edited file does not count old events under a new rule);
    # None when no rule did. Set with the processed mark.
    alert_rule: str | None = Field(default=None, max_length=32)
    # Arrival order, assigned by the database at insert: an identity column
    # on PostgreSQL, a trigger on SQLite (migration 0003). The claim takes
    # due events oldest first in this order, which an index serves.
    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(), nullable=True)
    )

    __table_args__ = (
        # "Due now, oldest first" without a sort: fresh events are the
        # next_attempt_at = 0 range in seq order, due retries the range
        # (0, now] in (next_attempt_at, seq) order. Partial: the processed
        # rows, the bulk of the table, are not in it.
        Index(
            "ix_stripe_event_claim",
            "next_attempt_at",
            "seq",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_stripe_event_seq", "seq", unique=True),
        # The daily summary's 14 days, by Stripe's time, in reading order
        # (migration 0007).
        Index("ix_stripe_event_created", "created", "seq"),
    )


class OutboxMessage(SQLModel, table=True):
    """A Slack message to post or update; a row before it is a request."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    # Who asked for it, e.g. "alert:evt_123", "nag:dp_1:72h"; makes enqueue
    # idempotent so a re-processed event never queues a second message.
    key: str = Field(max_length=255, unique=True)
    kind: str = Field(default="post", max_length=16)  # post | update
    channel: str = Field(max_length=64)
    text: str = Field(sa_type=Text)
    blocks: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    # One mrkdwn line naming this alert, when it may be folded into a digest.
    digest_line: str | None = Field(default=None, sa_type=Text)
    thread_key: str | None = Field(default=None, max_length=255)
    reply_broadcast: bool = False
    target_key: str | None = Field(default=None, max_length=255)  # for updates
    status: str = Field(default="pending", max_length=16)  # pending | sent
    attempts: int = 0
    next_attempt_at: float = 0.0
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: float | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: float
    sent_at: float | None = None
    ts: str | None = Field(default=None, max_length=32)  # Slack message ts
    # What a storm summary and its CSV say of this alert (bot.storm_csv:
    # created, event id, type, object, amount, currency, status, customer).
    facts: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # The storm summary this alert was folded into (status "folded", then
    # "sent" with the summary's ts once the summary is posted).
    storm_id: int | None = Field(default=None)

    __table_args__ = (
        Index("ix_outbox_due", "status", "channel", "id"),
        Index("ix_outbox_storm", "storm_id", "id"),
    )


class StormSummary(SQLModel, table=True):
    """One message (and its CSV) in place of a channel's storm of alerts.

    Created in the transaction that folds the alerts, so it survives a crash
    before it is posted; posted, then its CSV uploaded, each at most once.
    """

    __tablename__ = "storm_summary"

    id: int | None = Field(default=None, primary_key=True)
    # Tags the post in Slack's message metadata, like an outbox key.
    key: str = Field(max_length=255, unique=True)
    channel: str = Field(max_length=64)
    # claimed (alerts folded, not posted) | posted (CSV not uploaded) | done
    status: str = Field(default="claimed", max_length=16)
    text: str = Field(sa_type=Text)
    blocks: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    events: int = 0
    created_at: float
    attempts: int = 0  # failed posts or uploads, for the backoff
    next_attempt_at: float = 0.0
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: float | None = None
    # An upload whose answer we never saw: look in the thread before again.
    upload_uncertain: bool = False
    last_error: str | None = Field(default=None, sa_type=Text)
    ts: str | None = Field(default=None, max_length=32)
    file_id: str | None = Field(default=None, max_length=64)

    __table_args__ = (
        Index("ix_storm_summary_open", "status", "channel"),
        # The channel's latest summary (is a storm on?), one probe per round.
        Index("ix_storm_summary_channel", "channel", "created_at"),
    )


class RefundRequest(SQLModel, table=True):
    """A support agent's request for a refund, waiting for a manager."""

    __tablename__ = "refund_request"

    id: int | None = Field(default=None, primary_key=True)
    # pending -> approved -> succeeded | failed; pending -> denied | expired.
    # `approved` means the Stripe call may have gone out: start-up finishes it.
    status: str = Field(default="pending", max_length=16)
    payment_id: str = Field(max_length=255)  # what the agent typed: pi_ or ch_
    charge_id: str = Field(max_length=255)
    payment_intent_id: str | None = Field(default=None, max_length=255)
    customer_id: str | None = Field(default=None, max_length=255)
    customer_label: str | None = Field(default=None, sa_type=Text)
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    payment_amount: int = Field(sa_type=BigInteger)
    reason: str | None = Field(default=None, max_length=32)  # Stripe's enum
    note: str | None = Field(default=None, sa_type=Text)
    livemode: bool = False
    # The connected account the payment lives in (Connect); None: the platform.
    account: str | None = Field(default=None, max_length=255)
    account_name: str | None = Field(default=None, sa_type=Text)
    requested_by: str = Field(max_length=32)
    requested_in: str | None = Field(default=None, max_length=64)
    requested_at: float
    expires_at: float
    reminded_at: float | None = None
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: float | None = None
    deny_reason: str | None = Field(default=None, sa_type=Text)
    idempotency_key: str = Field(max_length=255, unique=True)
    refund_id: str | None = Field(default=None, max_length=255, index=True)
    refund_status: str | None = Field(default=None, max_length=32)
    failure_message: str | None = Field(default=None, sa_type=Text)
    message_key: str | None = Field(default=None, max_length=255)
    # Stripe attempts claimed, the approval's first one included: counted
    # before the call goes out, so more than one means an earlier attempt may
    # have reached Stripe (and the next one looks for its refund first).
    stripe_attempts: int = 0
    first_attempt_at: float | None = None
    # Lease and backoff of the next Stripe attempt for an `approved` request.
    next_attempt_at: float | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    # `created` of the newest Stripe event (or refund) whose status we took.
    refund_status_at: int | None = Field(default=None, sa_type=BigInteger)
    refund_reference: str | None = Field(default=None, max_length=255)  # the ARN
    refund_reference_status: str | None = Field(default=None, max_length=32)

    __table_args__ = (Index("ix_refund_request_status", "status", "expires_at"),)


class AuditLog(SQLModel, table=True):
    """Who did what to money, and when. Rows are only ever added."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: float
    actor: str = Field(max_length=64)  # a Slack user ID, "stripe" or "system"
    action: str = Field(max_length=64)
    subject: str = Field(max_length=255)  # e.g. "refund_request:12", "dp_123"
    amount: int | None = Field(default=None, sa_type=BigInteger)
    currency: str | None = Field(default=None, max_length=3)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class Dispute(SQLModel, table=True):
    """What we know of a Stripe dispute, taken from the newest object seen."""

    __tablename__ = "dispute"

    id: str = Field(primary_key=True, max_length=255)
    charge_id: str | None = Field(default=None, max_length=255, index=True)
    payment_intent_id: str | None = Field(default=None, max_length=255, index=True)
    amount: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=64)
    status: str = Field(max_length=32)
    due_by: int | None = Field(default=None, sa_type=BigInteger)
    livemode: bool = False
    # The connected account the dispute lives in (Connect); None: the platform.
    account: str | None = Field(default=None, max_length=255)
    account_name: str | None = Field(default=None, sa_type=Text)
    created: int = Field(sa_type=BigInteger)
    # The newest Stripe event (its `created`, then its id) whose object we took.
    version_created: int = Field(default=0, sa_type=BigInteger)
    version_event: str = Field(default="", max_length=255)
    submission_count: int = 0
    has_evidence: bool = False
    stripe_evidence: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON)
    )
    staged_evidence: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON)
    )
    # Files attached through the bot, by evidence field: {"id", "name", "size"}.
    evidence_files: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # Bumped by every save through the bot; part of the staging idempotency key,
    # so saving A, then B, then A again sends A a second time.
    evidence_revision: int = 0
    # From the charge, when we have seen it expanded; `customer_checked` once
    # we have (a guest checkout has no customer, so None alone says nothing).
    customer_id: str | None = Field(default=None, max_length=255)
    customer_name: str | None = Field(default=None, sa_type=Text)
    customer_email: str | None = Field(default=None, sa_type=Text)
    customer_checked: bool = False
    taken_by: str | None = Field(default=None, max_length=32)
    # Set by a conditional UPDATE before the Stripe call: one submission (or one
    # acceptance) per dispute, however many people click.
    submitted_by: str | None = Field(default=None, max_length=32)
    submitted_at: float | None = None
    accepted_by: str | None = Field(default=None, max_length=32)
    accepted_at: float | None = None
    alert_key: str | None = Field(default=None, max_length=255)
    alert_channel: str | None = Field(default=None, max_length=64)
    # The Stripe event the alert was posted for; its card names it, like every alert.
    alert_event: str | None = Field(default=None, max_length=255)
    updated_at: float

    __table_args__ = (
        Index("ix_dispute_open", "status", "due_by"),
        # The reminder scan: disputes still to answer, nearest deadline
        # first, without a sort (storage.dispute_reminders says the same
        # condition in its WHERE, as text, for the planners to match).
        Index(
            "ix_dispute_nag",
            "due_by",
            "id",
            postgresql_where=text(NAG_CONDITION),
            sqlite_where=text(NAG_CONDITION),
        ),
    )


class DisputeReminder(SQLModel, table=True):
    """One row per dispute and threshold: the unique key makes a nag happen once."""

    __tablename__ = "dispute_reminder"

    id: int | None = Field(default=None, primary_key=True)
    dispute_id: str = Field(max_length=255)
    threshold: str = Field(max_length=16)  # "72h", or "past_due"
    sent_at: float

    __table_args__ = (UniqueConstraint("dispute_id", "threshold"),)


class SyncState(SQLModel, table=True):
    """When a full read of something from Stripe last finished (one row each).

    In the database, not in memory: an instance that starts against a database
    another instance already filled knows at once that it is complete.
    """

    __tablename__ = "sync_state"

    name: str = Field(primary_key=True, max_length=64)
    finished_at: float


class FraudWarning(SQLModel, table=True):
    """An early fraud warning's alert, and whether it offers a refund.

    checking -> actionable | closed; actionable -> closed, or back to checking
    when a refund on the charge may have taken what was left. Each move is a
    conditional UPDATE, so an event and the check job never both win.
    """

    __tablename__ = "fraud_warning"

    id: str = Field(primary_key=True, max_length=255)  # issfr_…
    charge_id: str = Field(max_length=255, index=True)
    payment_intent_id: str | None = Field(default=None, max_length=255)
    livemode: bool = False
    # The connected account whose charge it is (the event's `account`).
    account: str | None = Field(default=None, max_length=255)
    # Stripe's own flag on the warning, as the event carried it.
    actionable: bool = True
    state: str = Field(default="checking", max_length=16)
    # Why a closed warning offers no refund: disputed, refunded, …
    closed_why: str | None = Field(default=None, max_length=32)
    alert_key: str = Field(max_length=255)
    event_id: str = Field(max_length=255)
    created_at: float
    updated_at: float

    __table_args__ = (Index("ix_fraud_warning_state", "state", "updated_at"),)


class DailySummary(SQLModel, table=True):
    """One row per local day summarized: the key makes the post happen once.

    `claimed` rows carry a lease; one whose lease ran out is taken over.
    `attempts` counts uploads begun: more than zero means an earlier one may
    have reached Slack, so the channel is looked at before posting again.
    """

    __tablename__ = "daily_summary"

    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD, local
    status: str = Field(default="claimed", max_length=16)  # claimed | posted
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: float = 0.0
    attempts: int = 0
    first_attempt_at: float | None = None
    channel: str | None = Field(default=None, max_length=64)
    file_id: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: float
    posted_at: float | None = None
