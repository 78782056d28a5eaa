"""`python -m bot check`: is everything wired right? One line per finding.

Each problem comes with its fix. Nothing here changes anything: Stripe
permissions for writes are probed with requests Stripe must refuse anyway
(a refund of a charge that does not exist answers 404 when the key may
refund, 403 naming the permission when it may not).
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.check.alert_rules import check_alert_rules
from bot.check.database import check_database
from bot.check.finding import Finding
from bot.check.slack_app import REQUIRED_SCOPES, check_slack
from bot.check.stripe_account import PROBES, check_stripe, check_webhooks
from bot.config import Settings
from bot.deps import Deps

__all__ = [
    "CHECKS",
    "PROBES",
    "REQUIRED_SCOPES",
    "Finding",
    "check_alert_rules",
    "check_database",
    "check_slack",
    "check_stripe",
    "check_webhooks",
    "collect",
    "print_report",
    "run_check",
]

CHECKS = (
    check_database,
    check_slack,
    check_stripe,
    check_webhooks,
    check_alert_rules,
)


def print_report(findings: list[Finding], out: TextIO) -> None:
    for f in findings:
        print(f"{'ok  ' if f.ok else 'FAIL'}  {f.what}", file=out)
        if not f.ok and f.fix:
            print(f"      fix: {f.fix}", file=out)
    problems = sum(1 for f in findings if not f.ok)
    print(
        "\neverything is wired right"
        if problems == 0
        else f"\n{problems} problem{'s' if problems != 1 else ''} found",
        file=out,
    )


async def collect(deps: Deps) -> list[Finding]:
    results = await asyncio.gather(*(check(deps) for check in CHECKS))
    return [Finding(True, "settings: valid")] + [f for r in results for f in r]


async def run_check(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Print the report; the exit status is 1 when anything is wrong."""
    deps = Deps.create(settings)
    try:
        findings = await collect(deps)
    finally:
        await deps.aclose()
    print_report(findings, out)
    return 0 if all(f.ok for f in findings) else 1
