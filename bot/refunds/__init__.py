"""Refunds, from an agent's request to Stripe's refund: the domain flow.

One module per step, in the order a request takes them:

- `asking`: the agent's command read and checked against the payment; the
  approval request posted (`request_refund`).
- `deciding`: a manager's Approve or Deny (`approve`, `deny`, `deny_check`).
- `refunding`: the claimed Stripe attempt with the request's idempotency key
  (`execute_refund`); `outcomes` records what came of it.
- `events`: Stripe's later `refund.*` events (`apply_refund_event`).
- `jobs`: finish approved requests after a crash, expire, remind.
- `messages`: the approval message's edits, thread replies, audit entries.

Why something is refused is a `RefundRefused` case (`bot.refund_refusals`),
worded in `bot.blocks.refund_refusals`. Slack is only ever reached through
the outbox (rows in the same transaction as the change), and Stripe never
inside a database transaction.
"""

from __future__ import annotations

from bot.refunds.asking import (
    RefundArgs,
    check_refund,
    parse_refund_args,
    request_refund,
    split_reason,
)
from bot.refunds.deciding import approve, deny, deny_check
from bot.refunds.events import apply_refund_event
from bot.refunds.jobs import expire_pending, finish_approved, remind_pending
from bot.refunds.outcomes import RETRY_BASE_SECONDS, RETRY_CAP_SECONDS
from bot.refunds.refunding import (
    ATTEMPT_LEASE_SECONDS,
    REQUEST_ID_METADATA,
    REQUEST_KEY_METADATA,
    execute_refund,
    refund_params,
)
from bot.refusals import RefundRefused

# Today's name for "a refund we will not ask for or make".
Refused = RefundRefused

__all__ = [
    "ATTEMPT_LEASE_SECONDS",
    "REQUEST_ID_METADATA",
    "REQUEST_KEY_METADATA",
    "RETRY_BASE_SECONDS",
    "RETRY_CAP_SECONDS",
    "RefundArgs",
    "Refused",
    "apply_refund_event",
    "approve",
    "check_refund",
    "deny",
    "deny_check",
    "execute_refund",
    "expire_pending",
    "finish_approved",
    "parse_refund_args",
    "refund_params",
    "remind_pending",
    "request_refund",
    "split_reason",
]
