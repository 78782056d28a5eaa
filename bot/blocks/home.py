"""The App Home tab: refund requests for managers, disputes and alerts for all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.blocks import (
    clip,
    context,
    date_token,
    escape,
    header,
    one_line,
    section,
    truncate,
)
from bot.blocks.disputes import STILL_READING, STILL_READING_MORE, amount, deadline
from bot.blocks.refunds import approval_actions  # Deny… opens the channel's modal
from bot.money import format_amount
from storage.models import Dispute, OutboxMessage, RefundRequest

if TYPE_CHECKING:
    from bot.blocks.disputes import Checklist

HOME_APPROVE_ACTION = "home_refund_approve"

# A home view holds at most 100 blocks; these keep it well under.
MAX_REQUESTS = 15
MAX_DISPUTES = 10
MAX_ALERTS = 8


def _request_blocks(req: RefundRequest) -> list[dict[str, Any]]:
    assert req.id is not None
    money = escape(format_amount(req.amount, req.currency))
    lines = [
        f"*{money}* on `{escape(req.payment_id)}` · asked by "
        f"<@{escape(req.requested_by)}> {date_token(int(req.requested_at))}",
    ]
    if req.customer_label:
        lines.append(f"Customer: {clip(one_line(req.customer_label), 200)}")
    why = req.reason.replace("_", " ") if req.reason else None
    if why or req.note:
        # Cut after escaping with truncate, which never splits an entity.
        lines.append(
            "Reason: "
            + truncate(" · ".join(escape(x) for x in (why, req.note) if x), 500)
        )
    lines.append(f"Expires {date_token(int(req.expires_at))}")
    actions = approval_actions(
        req, approve_action=HOME_APPROVE_ACTION, block_id="home_refund"
    )
    return [section("\n".join(lines)), actions]


def _dispute_block(d: Dispute, checklist: Checklist, now: float) -> dict[str, Any]:
    done = sum(1 for _, ok in checklist)
    filled = sum(1 for _, ok in checklist if ok)
    missing = [escape(f.label) for f, ok in checklist if not ok]
    lines = [
        f"*{amount(d)}* · `{escape(d.id)}` · {escape(d.reason.replace('_', ' '))}",
        f"Respond by: {deadline(d, now=now)}",
        f"Evidence: {filled}/{done} recommended fields"
        + (f" · missing {truncate(', '.join(missing), 600)}" if missing else ""),
    ]
    if d.taken_by:
        lines.append(f"Taken by <@{escape(d.taken_by)}>")
    if d.submitted_by:
        lines.append(f"Submitted by <@{escape(d.submitted_by)}>")
    return section("\n".join(lines))


def home_view(
    *,
    manager: bool,
    requests: Sequence[RefundRequest],
    disputes: Sequence[tuple[Dispute, Checklist]],
    disputes_total: int,
    alerts: Sequence[OutboxMessage],
    now: float,
    disputes_synced: bool = True,
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [header("stripe-ops")]
    if manager:
        blocks.append(header("Refund requests waiting for a manager"))
        if not requests:
            blocks.append(section("Nothing is waiting. :tada:"))
        for req in requests[:MAX_REQUESTS]:
            blocks += _request_blocks(req)
        if len(requests) > MAX_REQUESTS:
            blocks.append(
                context(f"…and more in the approvals channel ({len(requests)}+).")
            )
    blocks.append(header("Open disputes, soonest deadline first"))
    if not disputes and not disputes_synced:
        blocks.append(section(STILL_READING))
    elif not disputes:
        blocks.append(section("No dispute is waiting for an answer."))
    elif not disputes_synced:
        blocks.append(context(STILL_READING_MORE))
    for dispute, checklist in disputes[:MAX_DISPUTES]:
        blocks.append(_dispute_block(dispute, checklist, now))
    if disputes_total > len(disputes[:MAX_DISPUTES]):
        blocks.append(
            context(f"{disputes_total} in all: `/stripe disputes` lists them.")
        )
    blocks.append(header("Latest alerts"))
    if not alerts:
        blocks.append(section("No alert yet."))
    for alert in alerts[:MAX_ALERTS]:
        when = date_token(int(alert.created_at))
        state = "" if alert.status == "sent" else " · _waiting for Slack_"
        # Alert text is mrkdwn, escaped when the alert was built: only cut it.
        blocks.append(
            context(
                f"{truncate(one_line(alert.text), 280)} · <#{alert.channel}> · "
                f"{when}{state}"
            )
        )
    blocks.append(
        context(f"Updated {date_token(int(now))}. Reopen the tab to refresh.")
    )
    return {"type": "home", "blocks": blocks}


def outsider_home_view(note: str) -> dict[str, Any]:
    """The Home tab for someone outside support: the note, nothing more."""
    return {"type": "home", "blocks": [header("stripe-ops"), section(note)]}
