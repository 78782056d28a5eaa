"""One claim is one caller at Stripe: the attempt's lease outlasts the call."""

from __future__ import annotations

from bot.refunds import ATTEMPT_LEASE_SECONDS
from bot.stripe_api import longest_call_seconds, make_stripe_client


def test_the_lease_outlasts_the_slowest_call_the_client_can_make() -> None:
    client = make_stripe_client(api_key="sk_test_x", api_base="http://127.0.0.1:1")
    http = client._requestor._client
    assert http is not None
    # What the client really does, not what the constants say.
    timeout = float(http._timeout)  # type: ignore[attr-defined]
    retries = client._requestor._options.max_network_retries or 0
    assert longest_call_seconds(timeout, retries) < ATTEMPT_LEASE_SECONDS
