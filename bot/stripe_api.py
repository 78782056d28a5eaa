"""Stripe: the client, instrumented calls, and errors worded for people."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable
from typing import TypeVar

import stripe

from bot.metrics import Metrics

T = TypeVar("T")

# How the Stripe Dashboard names what a restricted key's `rak_*` permission is.
PERMISSION_NAMES: dict[str, str] = {
    "rak_customer_read": "Customers: Read",
    "rak_payment_method_read": "PaymentMethods: Read",
    "rak_payment_intent_read": "PaymentIntents: Read",
    "rak_charge_read": "Charges: Read",
    "rak_refund_read": "Refunds: Read",
    "rak_refund_write": "Refunds: Write",
    "rak_dispute_read": "Disputes: Read",
    "rak_dispute_write": "Disputes: Write",
    "rak_file_write": "Files: Write",
    "rak_webhook_read": "Webhook Endpoints: Read",
    "rak_balance_read": "Balance: Read",
    "rak_account_read": "Account: Read",
}

_RAK = re.compile(r"'(rak_[a-z_]+)'")


# One Stripe request: each try may take this long (the SDK's default is 80 s),
# and the SDK tries again this many times, sleeping at most 5 s in between.
STRIPE_TIMEOUT_SECONDS = 20.0
STRIPE_NETWORK_RETRIES = 2


def longest_call_seconds(
    timeout: float = STRIPE_TIMEOUT_SECONDS, retries: int = STRIPE_NETWORK_RETRIES
) -> float:
    """How long one call through the client can take, retries included."""
    return timeout * (retries + 1) + retries * stripe.HTTPClient.MAX_DELAY


def make_stripe_client(
    *,
    api_key: str,
    api_base: str,
    max_network_retries: int = STRIPE_NETWORK_RETRIES,
) -> stripe.StripeClient:
    # Retries resend the same Idempotency-Key, so a retried POST is safe.
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base, "files": api_base},
        http_client=stripe.AIOHTTPClient(timeout=STRIPE_TIMEOUT_SECONDS),
        max_network_retries=max_network_retries,
    )


async def close_stripe_client(client: stripe.StripeClient) -> None:
    # StripeClient has no close of its own; its HTTP client holds a session.
    http_client = client._requestor._client
    if http_client is not None:
        await http_client.close_async()  # type: ignore[no-untyped-call]


async def call(metrics: Metrics | None, operation: str, request: Awaitable[T]) -> T:
    """Await a Stripe request, counting it by operation and outcome."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        return await request
    except stripe.StripeError as exc:
        outcome = type(exc).__name__
        raise
    finally:
        if metrics is not None:
            metrics.stripe_calls.labels(operation, outcome).inc()
            metrics.stripe_latency.labels(operation).observe(
                time.perf_counter() - started
            )


def missing_permission(exc: stripe.StripeError) -> str | None:
    """The `rak_*` permission a restricted key lacked, from Stripe's message."""
    if not isinstance(exc, stripe.PermissionError):
        return None
    match = _RAK.search(str(exc.user_message or exc))
    return match.group(1) if match else None


def describe_error(exc: stripe.StripeError) -> str:
    """A sentence for Slack: what Stripe said, never a key or a stack.

    Plain text that may quote Stripe: escape it where it goes into mrkdwn.
    """
    permission = missing_permission(exc)
    if permission is not None:
        name = PERMISSION_NAMES.get(permission, permission)
        return (
            f"The Stripe key lacks the *{name}* permission (`{permission}`). "
            "Ask an admin to add it to the restricted key in the Stripe Dashboard."
        )
    if isinstance(exc, stripe.PermissionError):
        return "The Stripe key is not allowed to do that. Ask an admin to check it."
    if isinstance(exc, stripe.AuthenticationError):
        return "Stripe did not accept the API key. Ask an admin to run `check`."
    if isinstance(exc, stripe.RateLimitError):
        return "Stripe is rate-limiting us right now. Try again in a minute."
    if isinstance(exc, stripe.APIConnectionError):
        return "Stripe could not be reached. Try again in a minute."
    message = exc.user_message or "Stripe refused the request."
    return str(message)
