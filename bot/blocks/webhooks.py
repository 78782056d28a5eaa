"""The webhook audit as Block Kit: each endpoint and what it does not send."""

from __future__ import annotations

from typing import Any

import stripe

from bot.blocks import clip, context, escape, header, section
from bot.stripe_api import describe_error
from bot.webhook_audit import RECOMMENDED_EVENTS, EndpointReport


def webhook_audit_blocks(
    reports: list[EndpointReport], *, expected: str | None
) -> tuple[str, list[dict[str, Any]]]:
    where = expected or "an URL ending in /stripe/webhook"
    ours = [r for r in reports if r.ours]
    if any(r.complete for r in ours):
        verdict = ":white_check_mark: Stripe sends every recommended event here."
    elif ours:
        verdict = ":warning: The endpoint for this bot misses events (below)."
    else:
        verdict = f":x: No endpoint points at {clip(where, 200)}."
    blocks: list[dict[str, Any]] = [
        header("Stripe webhook endpoints"),
        section(verdict),
    ]
    for report in reports[:20]:
        status = "enabled" if report.status == "enabled" else f"*{report.status}*"
        lines = [
            f"{'*this bot* · ' if report.ours else ''}`{clip(report.id, 80)}` · "
            f"{status}",
            clip(report.url, 300),
        ]
        if report.missing:
            missing = ", ".join(f"`{e}`" for e in report.missing)
            lines.append(f"Missing {len(report.missing)}: {clip(missing, 2000)}")
        else:
            lines.append(f"Sends all {len(RECOMMENDED_EVENTS)} recommended events.")
        blocks.append(section("\n".join(lines)))
    if len(reports) > 20:
        blocks.append(context(f"…and {len(reports) - 20} more endpoints."))
    blocks.append(
        context(
            "Add missing events in the Stripe Dashboard → Developers → Webhooks. "
            "`python -m bot check` runs the same audit."
        )
    )
    return verdict, blocks


def webhook_audit_failed(exc: stripe.StripeError) -> str:
    """Why Stripe did not list the endpoints (a missing permission is named)."""
    return escape(describe_error(exc))
