"""`python -m bot check`: is everything wired right? One line per finding.

Each problem comes with its fix. Nothing here changes anything: Stripe
permissions for writes are probed with requests Stripe must refuse anyway
(a refund of a charge that does not exist answers 404 when the key may
refund, 403 naming the permission when it may not).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO

import stripe
from slack_sdk.errors import SlackApiError
from stripe import RequestOptions

from bot.config import Settings
from bot.deps import Deps
from bot.stripe_api import PERMISSION_NAMES, describe_error, missing_permission
from bot.webhook_audit import RECOMMENDED_EVENTS, audit_endpoints, expected_url
from storage.migrate import current_revision, head_revision

# Every bot scope manifest.yml asks for (tests/test_manifest.py keeps the two
# the same): a token without one of them breaks a feature.
REQUIRED_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "usergroups:read",
    "users:read",
    "files:read",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "im:history",
)

# An ID no Stripe object has: requests about it are refused, never acted on.
_NO_SUCH = "stripe_ops_check_does_not_exist"


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


# -- settings and database ----------------------------------------------------


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
                "run `python -m bot migrate` (on SQLite the server does it at start)",
            )
        ]
    return [Finding(True, f"database: reachable, schema at revision {head}")]


# -- Slack --------------------------------------------------------------------


async def check_slack(deps: Deps) -> list[Finding]:
    settings = deps.settings
    try:
        resp = await deps.slack.auth_test()
    except SlackApiError as exc:
        return [
            Finding(
                False,
                f"Slack: auth.test failed ({exc.response.get('error')})",
                "set SLACK_BOT_TOKEN to the app's current Bot User OAuth Token "
                "(OAuth & Permissions)",
            )
        ]
    except Exception as exc:
        return [
            Finding(
                False,
                f"Slack: cannot reach {settings.SLACK_API_URL} ({type(exc).__name__})",
                "check SLACK_API_URL and the network",
            )
        ]
    findings = [
        Finding(True, f"Slack: signed in as @{resp.get('user')} in {resp.get('team')}")
    ]
    header = resp.headers.get("x-oauth-scopes") or resp.headers.get("X-OAuth-Scopes")
    granted = {s.strip() for s in str(header or "").split(",") if s.strip()}
    missing = [s for s in REQUIRED_SCOPES if s not in granted]
    if missing:
        findings.append(
            Finding(
                False,
                f"Slack: the token lacks scope{'s' if len(missing) > 1 else ''} "
                + ", ".join(missing),
                "add them under OAuth & Permissions (or recreate the app from "
                "manifest.yml), reinstall the app, and update SLACK_BOT_TOKEN",
            )
        )
    else:
        findings.append(Finding(True, "Slack: the token has every scope it needs"))
    findings += await _check_channels(
        deps, can_post_public="chat:write.public" in granted
    )
    findings += await _check_people(deps)
    return findings


def _channels(settings: Settings) -> dict[str, list[str]]:
    """Channel ID -> the settings that name it."""
    names = (
        "ALERT_CHANNEL",
        "PAYMENTS_CHANNEL",
        "REFUNDS_CHANNEL",
        "PAYOUTS_CHANNEL",
        "DISPUTES_CHANNEL",
        "APPROVALS_CHANNEL",
    )
    out: dict[str, list[str]] = {}
    for name in names:
        channel = getattr(settings, name)
        if channel:
            out.setdefault(channel, []).append(name)
    return out


async def _check_channels(deps: Deps, *, can_post_public: bool) -> list[Finding]:
    findings = []
    for channel, names in _channels(deps.settings).items():
        label = f"Slack: channel {channel} ({', '.join(names)})"
        try:
            info = (await deps.slack.conversations_info(channel=channel))["channel"]
        except SlackApiError as exc:
            error = exc.response.get("error")
            findings.append(
                Finding(
                    False,
                    f"{label}: {error}",
                    "use the channel's ID (channel details → About), and invite "
                    "the bot to it if it is private",
                )
            )
            continue
        if info.get("is_archived"):
            findings.append(
                Finding(False, f"{label}: archived", "unarchive it or pick another")
            )
        elif info.get("is_member") or (not info.get("is_private") and can_post_public):
            findings.append(Finding(True, f"{label}: the bot can post there"))
        else:
            findings.append(
                Finding(
                    False,
                    f"{label}: the bot is not a member",
                    "invite the bot: /invite @stripe-ops in that channel",
                )
            )
    return findings


async def _check_people(deps: Deps) -> list[Finding]:
    settings = deps.settings
    findings = []
    managers = len(settings.MANAGER_USER_IDS)
    for setting in ("MANAGER_USERGROUP", "SUPPORT_USERGROUP"):
        group = getattr(settings, setting)
        if not group:
            continue
        try:
            resp = await deps.slack.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            findings.append(
                Finding(
                    False,
                    f"Slack: {setting} {group} does not resolve "
                    f"({exc.response.get('error')})",
                    "use the user group's ID (S…) and check the usergroups:read scope",
                )
            )
            continue
        members = list(resp.get("users") or [])
        if setting == "MANAGER_USERGROUP":
            managers += len(members)
        findings.append(
            Finding(True, f"Slack: {setting} {group} has {len(members)} members")
        )
    if managers == 0:
        findings.append(
            Finding(
                False,
                "managers: nobody can approve refunds",
                "set MANAGER_USER_IDS or MANAGER_USERGROUP",
            )
        )
    else:
        findings.append(Finding(True, f"managers: {managers} can approve refunds"))
    return findings


# -- Stripe -------------------------------------------------------------------

Probe = Callable[[stripe.StripeClient], Awaitable[Any]]


def _key() -> RequestOptions:
    # Every POST carries an idempotency key, probes included.
    return {"idempotency_key": f"stripe-ops-check-{uuid.uuid4()}"}


# What the bot does with each permission, and a request that needs it and
# changes nothing.
PROBES: tuple[tuple[str, str, Probe], ...] = (
    (
        "rak_customer_read",
        "look customers up",
        lambda c: c.v1.customers.list_async({"limit": 1}),
    ),
    (
        "rak_payment_method_read",
        "show saved PaymentMethods",
        lambda c: c.v1.payment_methods.retrieve_async(f"pm_{_NO_SUCH}"),
    ),
    (
        "rak_payment_intent_read",
        "show payments",
        lambda c: c.v1.payment_intents.list_async({"limit": 1}),
    ),
    (
        "rak_charge_read",
        "show charges",
        lambda c: c.v1.charges.list_async({"limit": 1}),
    ),
    (
        "rak_refund_read",
        "list refunds",
        lambda c: c.v1.refunds.list_async({"limit": 1}),
    ),
    (
        "rak_refund_write",
        "make approved refunds",
        lambda c: c.v1.refunds.create_async({"charge": f"ch_{_NO_SUCH}"}, _key()),
    ),
    (
        "rak_dispute_read",
        "show disputes",
        lambda c: c.v1.disputes.list_async({"limit": 1}),
    ),
    (
        "rak_dispute_write",
        "submit dispute evidence",
        lambda c: c.v1.disputes.update_async(
            f"dp_{_NO_SUCH}", {"metadata": {"stripe_ops_check": "1"}}, _key()
        ),
    ),
    (
        "rak_file_write",
        "upload evidence files",
        lambda c: c.v1.files.create_async({"purpose": "dispute_evidence"}, _key()),  # type: ignore[typeddict-item]
    ),
    (
        "rak_webhook_read",
        "audit webhook endpoints",
        lambda c: c.v1.webhook_endpoints.list_async({"limit": 1}),
    ),
)


async def _probe(deps: Deps, permission: str, purpose: str, probe: Probe) -> Finding:
    name = PERMISSION_NAMES.get(permission, permission)
    try:
        await probe(deps.stripe)
    except stripe.PermissionError as exc:
        lacking = missing_permission(exc) or permission
        return Finding(
            False,
            f"Stripe: the key lacks {PERMISSION_NAMES.get(lacking, lacking)} "
            f"({lacking}), needed to {purpose}",
            "edit the restricted key in the Stripe Dashboard (Developers → API "
            f"keys) and set {name.split(':')[0]} to "
            f"{'Write' if permission.endswith('_write') else 'Read'}",
        )
    except stripe.AuthenticationError as exc:
        raise _KeyRejected(describe_error(exc)) from None
    except (stripe.InvalidRequestError, stripe.CardError):
        pass  # refused for what was asked, not for who asked: permitted
    return Finding(True, f"Stripe: {name} ({permission})")


class _KeyRejected(Exception):
    pass


async def check_stripe(deps: Deps) -> list[Finding]:
    settings = deps.settings
    key = settings.STRIPE_API_KEY.get_secret_value()
    mode = "live" if settings.stripe_live else "test"
    restricted = key.startswith("rk_")
    try:
        probes = await asyncio.gather(
            *(_probe(deps, perm, purpose, probe) for perm, purpose, probe in PROBES)
        )
    except _KeyRejected as exc:
        return [Finding(False, f"Stripe: {exc}", "set STRIPE_API_KEY to a current key")]
    except stripe.APIConnectionError:
        return [
            Finding(
                False,
                f"Stripe: cannot reach {settings.STRIPE_API_BASE}",
                "check STRIPE_API_BASE and the network",
            )
        ]
    findings = [
        Finding(
            True,
            f"Stripe: the key works ({mode} mode, "
            f"{'restricted' if restricted else 'secret'} key)",
        )
    ]
    if not restricted:
        findings.append(
            Finding(
                True,
                "Stripe: a secret key has every permission; a restricted key "
                "(rk_…) with only those in the README is safer",
            )
        )
    findings += probes
    return findings


async def check_webhooks(deps: Deps) -> list[Finding]:
    try:
        reports = await audit_endpoints(deps)
    except stripe.StripeError as exc:
        return [Finding(False, f"Stripe webhooks: {describe_error(exc)}", "")]
    where = expected_url(deps.settings.PUBLIC_URL) or "…/stripe/webhook"
    ours = [r for r in reports if r.ours]
    if not ours:
        return [
            Finding(
                False,
                f"Stripe webhooks: no endpoint points at {where}",
                f"add one in the Stripe Dashboard (Developers → Webhooks) for {where} "
                f"with these events: {', '.join(RECOMMENDED_EVENTS)}",
            )
        ]
    findings = []
    for report in ours:
        if report.status != "enabled":
            findings.append(
                Finding(
                    False,
                    f"Stripe webhooks: endpoint {report.url} is {report.status}",
                    "enable it in the Stripe Dashboard",
                )
            )
        elif report.missing:
            findings.append(
                Finding(
                    False,
                    f"Stripe webhooks: endpoint {report.url} does not send "
                    + ", ".join(report.missing),
                    "add those events to the endpoint in the Stripe Dashboard",
                )
            )
        else:
            findings.append(
                Finding(
                    True,
                    f"Stripe webhooks: {report.url} sends all "
                    f"{len(RECOMMENDED_EVENTS)} recommended events",
                )
            )
    return findings


CHECKS = (check_database, check_slack, check_stripe, check_webhooks)


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
