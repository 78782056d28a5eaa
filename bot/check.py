"""`python -m bot check`: is everything wired right? One line per check."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO

import stripe
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.deps import Deps
from bot.stripe_api import describe_error
from storage.migrate import current_revision, head_revision


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


Check = Callable[[Deps], Awaitable[list[Finding]]]


async def check_database(deps: Deps) -> list[Finding]:
    try:
        current = await current_revision(deps.engine)
    except Exception as exc:  # any driver error means "cannot reach it"
        return [
            Finding(
                False,
                f"database: cannot connect ({type(exc).__name__})",
                "check DATABASE_URL and that the database server is running",
            )
        ]
    head = head_revision()
    if current != head:
        return [
            Finding(
                False,
                f"database: schema at {current or 'nothing'}, the code needs {head}",
                "run `python -m bot migrate`",
            )
        ]
    return [Finding(True, f"database: reachable, schema at {head}")]


async def check_slack(deps: Deps) -> list[Finding]:
    try:
        resp = await deps.slack.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        return [
            Finding(
                False,
                f"Slack: auth.test failed ({error})",
                "set SLACK_BOT_TOKEN to the app's current Bot User OAuth Token",
            )
        ]
    except Exception as exc:
        return [
            Finding(
                False,
                f"Slack: cannot reach {deps.settings.SLACK_API_URL} "
                f"({type(exc).__name__})",
                "check SLACK_API_URL and the network",
            )
        ]
    return [
        Finding(True, f"Slack: signed in as {resp.get('user')} in {resp.get('team')}")
    ]


async def check_stripe(deps: Deps) -> list[Finding]:
    mode = "live" if deps.settings.stripe_live else "test"
    try:
        await deps.stripe.v1.balance.retrieve_async()
    except stripe.StripeError as exc:
        return [Finding(False, f"Stripe: {describe_error(exc)}", "see README, Stripe")]
    return [Finding(True, f"Stripe: the key works ({mode} mode)")]


CHECKS: tuple[Check, ...] = (check_database, check_slack, check_stripe)


def print_report(findings: list[Finding], out: TextIO) -> None:
    for f in findings:
        line = f"[{'ok' if f.ok else 'FAIL'}] {f.what}"
        if not f.ok and f.fix:
            line += f"\n       fix: {f.fix}"
        print(line, file=out)
    problems = sum(1 for f in findings if not f.ok)
    print(
        "everything is wired right"
        if problems == 0
        else f"{problems} problem{'s' if problems != 1 else ''} found",
        file=out,
    )


async def run_check(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Print the report; the exit status is 1 when anything is wrong."""
    deps = Deps.create(settings)
    try:
        results = await asyncio.gather(*(check(deps) for check in CHECKS))
    finally:
        await deps.aclose()
    findings = [Finding(True, "settings: valid")] + [f for r in results for f in r]
    print_report(findings, out)
    return 0 if all(f.ok for f in findings) else 1
