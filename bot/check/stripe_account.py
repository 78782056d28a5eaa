"""Stripe: the key, each permission the bot uses, and the webhook endpoint.

Permissions for writes are probed with requests Stripe must refuse anyway (a
refund of a charge that does not exist answers 404 when the key may refund, 403
naming the permission when it may not).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import stripe
from stripe import RequestOptions

from bot.check.finding import Finding
from bot.deps import Deps
from bot.stripe_api import PERMISSION_NAMES, describe_error, missing_permission
from bot.webhook_audit import RECOMMENDED_EVENTS, audit_endpoints, expected_url

# An ID no Stripe object has: requests about it are refused, never acted on.
_NO_SUCH = "stripe_ops_check_does_not_exist"


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
