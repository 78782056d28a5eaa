"""A Stripe webhook delivery: is it signed by Stripe, and is it an event we store?"""

from __future__ import annotations

import json
import re

import stripe

from bot.stripe_shapes import event_object
from storage.events import NewEvent

# Stripe's own default; a delivery signed longer ago than this is refused.
SIGNATURE_TOLERANCE_SECONDS = 300


def verify_signature(payload: str, header: str | None, secrets: list[str]) -> bool:
    """True when any current secret signed this payload within the tolerance,
    as stripe-python's own check says."""
    if not header or not header.isascii():
        # Stripe's signatures are hex; stripe-python's compare raises a
        # TypeError on non-ASCII text instead of saying no (it was a 500).
        return False
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload, header, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            continue
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
