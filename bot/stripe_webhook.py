"""A Stripe webhook delivery: is it signed by Stripe, and is it an event we store?"""

from __future__ import annotations

import hmac
import json
import re
import time

from bot.stripe_shapes import event_object
from storage.events import NewEvent

# Stripe's own default; a delivery signed longer ago than this is refused.
SIGNATURE_TOLERANCE_SECONDS = 300

_SCHEME = "v1"
_WHITESPACE = " \t\r\n\f\v"


def verify_signature(payload: bytes, header: str | None, secrets: list[str]) -> bool:
    """True when any current secret signed this payload within the tolerance.

    Stripe's scheme exactly as stripe-python's `WebhookSignature.verify_header`
    checks it (tests/bot/test_signature.py compares the two), done once per
    delivery instead of once per secret, on the bytes as received (Stripe's
    helper encodes the text again), with one C call for the HMAC.
    """
    if not header:
        return False
    try:
        # As stripe-python parses it: the first `t`, every `v1`.
        items = [item.split("=", 2) for item in header.split(",")]
        # Every `t` is read (a bare one is an error there too); the first counts.
        stamps = [item[1] for item in items if item[0] == "t"]
        timestamp = int(stamps[0])
        signatures = [item[1].encode() for item in items if item[0] == _SCHEME]
    except (IndexError, ValueError):
        return False
    if not signatures:
        return False
    if timestamp < time.time() - SIGNATURE_TOLERANCE_SECONDS:
        return False
    signed_payload = b"%d.%s" % (timestamp, payload)
    for secret in secrets:
        if secret.strip(_WHITESPACE) == "":
            continue
        expected = hmac.digest(secret.encode(), signed_payload, "sha256").hex()
        if any(hmac.compare_digest(expected.encode(), s) for s in signatures):
            return True
    return False


class NotAnEvent(ValueError):
    """A signed body that is not a Stripe event we can store; says what is wrong."""


# What Stripe sends, and what fits the columns: no control characters (a NUL
# cannot be stored in PostgreSQL text), at most 255 characters.
_STRIPE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
_EVENT_TYPE = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+")
_CREATED_MAX = 2**53  # far beyond any real timestamp, well inside BIGINT


def parse_event(text: str) -> NewEvent:
    """The columns we store for one event, or NotAnEvent saying what is wrong."""
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise NotAnEvent("the body is not JSON") from exc
    if not isinstance(event, dict):
        raise NotAnEvent("the body is not a JSON object")
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not _STRIPE_ID.fullmatch(event_id):
        raise NotAnEvent("`id` is missing or not a Stripe event ID")
    if (
        not isinstance(event_type, str)
        or len(event_type) > 255
        or not _EVENT_TYPE.fullmatch(event_type)
    ):
        raise NotAnEvent("`type` is missing or not a Stripe event type")
    # No `data.object` is stored all the same: a newer API version's thin
    # event is alerted with what it has (bot.event_router), and refusing a
    # signed delivery would only have Stripe retry it, then disable us.
    object_id = event_object(event).get("id")  # a balance has none
    if object_id is not None and (
        not isinstance(object_id, str) or not _STRIPE_ID.fullmatch(object_id)
    ):
        raise NotAnEvent("`data.object.id` is not a Stripe ID")
    created = event.get("created")
    created = 0 if created is None else created
    if (
        not isinstance(created, int)
        or isinstance(created, bool)
        or not 0 <= created < _CREATED_MAX
    ):
        raise NotAnEvent("`created` is not a Unix timestamp")
    return NewEvent(
        id=event_id,
        type=event_type,
        livemode=event.get("livemode") is True,
        created=created,
        object_id=object_id,
        payload=text,
    )
