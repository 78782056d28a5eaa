"""Our Stripe-Signature check agrees with stripe-python's on every header shape."""

from __future__ import annotations

import time

import pytest
import stripe

from bot.stripe_webhook import SIGNATURE_TOLERANCE_SECONDS, verify_signature

PAYLOAD = '{"id": "evt_1", "object": "event", "note": "caf\\u00e9 \u00e9"}'
SECRET = "whsec_current"
OTHER = "whsec_other"


def stripes_answer(payload: str, header: str, secrets: list[str]) -> bool:
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload, header, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            continue
        except TypeError:
            # A non-ASCII signature: stripe-python's compare_digest raises
            # (a 500 once); a refusal all the same.
            continue
        return True
    return False


def sig(payload: str, secret: str, timestamp: int) -> str:
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp
    )
    return header.split(",")[1].removeprefix("v1=")


NOW = int(time.time())
GOOD = sig(PAYLOAD, SECRET, NOW)
HEADERS = {
    "valid": f"t={NOW},v1={GOOD}",
    "valid, v1 listed second": f"t={NOW},v1={'0' * 64},v1={GOOD}",
    "valid, with a v0": f"t={NOW},v0={'1' * 64},v1={GOOD}",
    "valid, keys reordered": f"v1={GOOD},t={NOW}",
    "other secret": f"t={NOW},v1={sig(PAYLOAD, OTHER, NOW)}",
    "signed for another time": f"t={NOW - 1},v1={GOOD}",
    "stale": f"t={NOW - 301},v1={sig(PAYLOAD, SECRET, NOW - 301)}",
    "just in time": f"t={NOW - 200},v1={sig(PAYLOAD, SECRET, NOW - 200)}",
    "zero-padded t": f"t=0{NOW},v1={GOOD}",
    "t with spaces": f"t= {NOW} ,v1={GOOD}",
    "only v0": f"t={NOW},v0={GOOD}",
    "no t": f"v1={GOOD}",
    "t without a value": f"t,v1={GOOD}",
    "a second bare t": f"t={NOW},v1={GOOD},t",
    "t not a number": f"t=soon,v1={GOOD}",
    "v1 with an extra =": f"t={NOW},v1={GOOD}=x",
    "upper-case hex": f"t={NOW},v1={GOOD.upper()}",
    "non-ASCII signature": f"t={NOW},v1=\u00e9{GOOD[1:]}",
    "garbage": "nonsense",
    "empty": "",
}


@pytest.mark.parametrize("label", HEADERS)
@pytest.mark.parametrize(
    "secrets",
    [[SECRET], [OTHER, SECRET], [OTHER], ["", " ", SECRET], []],
    ids=["current", "rotating", "other", "blank-first", "none"],
)
def test_signature_check_agrees_with_stripe_python(
    label: str, secrets: list[str]
) -> None:
    header = HEADERS[label]
    expected = stripes_answer(PAYLOAD, header, secrets)
    assert verify_signature(PAYLOAD.encode(), header, secrets) is expected, label


def test_a_valid_signature_passes_and_a_tampered_body_fails() -> None:
    # The matrix above could agree by refusing everything.
    header = HEADERS["valid"]
    assert verify_signature(PAYLOAD.encode(), header, [SECRET])
    assert verify_signature(PAYLOAD.encode(), HEADERS["just in time"], [SECRET])
    assert not verify_signature(PAYLOAD.encode() + b" ", header, [SECRET])
    assert not verify_signature(PAYLOAD.encode(), None, [SECRET])
