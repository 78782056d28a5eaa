"""A day of mixed Stripe events in USD, JPY and KWD, stored as the bot stores them.

The day is 20 November 2026 in Asia/Tokyo (UTC+9). Beside it, events on the
7 days before (for the averages) and just across both local midnights.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.deps import Deps
from storage.events import NewEvent, store_events
from tests import support as s

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = date(2026, 11, 20)
# The bot had been running since long before the week shown.
LONG_AGO = datetime(2026, 10, 1, tzinfo=TOKYO).timestamp()


def at(day: int, hour: int, minute: int = 0) -> int:
    """Epoch seconds of 2026-11-<day> hour:minute in Tokyo."""
    moment = datetime.combine(date(2026, 11, day), time(hour, minute), TOKYO)
    return int(moment.timestamp())


def event_at(type_: str, obj: dict[str, Any], created: int) -> NewEvent:
    """An event of `type_` about `obj`, created at `created`, as stored."""
    return _event(type_, obj, created)


def _event(type_: str, obj: dict[str, Any], created: int, **extra: Any) -> NewEvent:
    payload = s.event(type_, obj, created=created)
    payload.update(extra)
    return NewEvent(
        id=payload["id"],
        type=type_,
        livemode=False,
        created=created,
        object_id=obj.get("id"),
        payload=json.dumps(payload),
    )


def the_day() -> list[NewEvent]:
    """Three currencies, each payment and refund described more than once."""
    t = at(20, 12)
    pi_a = s.payment_intent(amount=2000, amount_received=2000)
    charge_a = s.charge(amount=2000, payment_intent=pi_a["id"])
    pi_b = s.payment_intent(amount=3050, amount_received=3050)
    legacy = s.charge(amount=1000, amount_captured=1000, payment_intent=None)
    uncaptured = s.charge(
        amount=4000, amount_captured=0, captured=False, payment_intent=None
    )
    failed_pi = s.payment_intent(status="requires_payment_method")
    failed_charge = s.charge(status="failed", payment_intent=failed_pi["id"])
    refund_usd = s.refund(amount=500, currency="usd", created=t)
    refunded_charge = s.charge(
        id=refund_usd["charge"],
        amount_refunded=500,
        refunds={"object": "list", "data": [refund_usd]},
    )
    refund_failed = s.refund(amount=700, status="failed", created=t)
    pi_jpy = s.payment_intent(amount=5000, amount_received=5000, currency="jpy")
    refund_jpy = s.refund(amount=1200, currency="jpy", created=t)
    refunded_jpy = s.charge(
        currency="jpy",
        amount=5000,
        amount_refunded=1200,
        refunds={"object": "list", "data": [refund_jpy]},
    )
    pi_kwd = s.payment_intent(amount=12345, amount_received=12345, currency="kwd")
    connect_pi = s.payment_intent(amount=99999, amount_received=99999)
    return [
        _event("payment_intent.succeeded", pi_a, t),
        _event("charge.succeeded", charge_a, t),
        _event("payment_intent.succeeded", pi_b, t + 60),
        _event("charge.succeeded", legacy, t + 120),
        _event("charge.succeeded", uncaptured, t + 130),
        _event("payment_intent.payment_failed", failed_pi, t + 180),
        _event("charge.failed", failed_charge, t + 180),
        _event("refund.created", refund_usd, t + 240),
        _event("charge.refunded", refunded_charge, t + 241),
        _event("refund.created", refund_failed, t + 250),
        _event("charge.dispute.created", s.dispute(), t + 300),
        _event("charge.dispute.closed", s.dispute(status="won"), t + 310),
        _event("payout.paid", s.payout(status="paid"), t + 320),
        _event("payment_intent.succeeded", pi_jpy, t + 400),
        _event("charge.refunded", refunded_jpy, t + 410),
        _event("payout.failed", s.payout(status="failed", currency="jpy"), t + 420),
        _event("payment_intent.succeeded", pi_kwd, t + 500),
        _event(
            "charge.dispute.closed", s.dispute(status="lost", currency="kwd"), t + 510
        ),
        # A connected account's payment is not the platform's gross.
        _event("payment_intent.succeeded", connect_pi, t + 600, account="acct_1X"),
        # 00:30 on the 21st in Tokyo, still the 20th in UTC: the next day.
        _event(
            "payment_intent.succeeded", s.payment_intent(amount=8800), at(21, 0, 30)
        ),
    ]


def the_week_before() -> list[NewEvent]:
    """USD: 70.00 on the 13th and at 23:30 on the 19th; JPY: 7,000 on the 15th."""
    return [
        _event(
            "payment_intent.succeeded",
            s.payment_intent(amount=7000, amount_received=7000),
            at(13, 10),
        ),
        _event(
            "payment_intent.succeeded",
            s.payment_intent(amount=7000, amount_received=7000),
            at(19, 23, 30),
        ),
        _event(
            "payment_intent.succeeded",
            s.payment_intent(amount=7000, amount_received=7000, currency="jpy"),
            at(15, 10),
        ),
    ]


async def store(deps: Deps, events: list[NewEvent], *, received_at: float) -> None:
    async with deps.sessions() as session, session.begin():
        await store_events(session, events=events, now=received_at)


EXPECTED_USD = [
    "*USD*",
    "• Payments: 3 succeeded, 60.50 USD gross (avg 0.3, 20.00 USD)",
    "• Failed payments: 1 (avg 0.0)",
    "• Refunds: 1, 5.00 USD (avg 0.0, 0.00 USD)",
    "• Disputes: 1 opened, 1 won, 0 lost (avg 0.0, 0.0, 0.0)",
    "• Payouts: 1 paid, 0 failed (avg 0.0, 0.0)",
]
EXPECTED_JPY = [
    "*JPY*",
    "• Payments: 1 succeeded, 5,000 JPY gross (avg 0.1, 1,000 JPY)",
    "• Failed payments: 0 (avg 0.0)",
    "• Refunds: 1, 1,200 JPY (avg 0.0, 0 JPY)",
    "• Disputes: 0 opened, 0 won, 0 lost (avg 0.0, 0.0, 0.0)",
    "• Payouts: 0 paid, 1 failed (avg 0.0, 0.0)",
]
EXPECTED_KWD = [
    "*KWD*",
    "• Payments: 1 succeeded, 12.345 KWD gross (avg 0.0, 0.000 KWD)",
    "• Failed payments: 0 (avg 0.0)",
    "• Refunds: 0, 0.000 KWD (avg 0.0, 0.000 KWD)",
    "• Disputes: 0 opened, 0 won, 1 lost (avg 0.0, 0.0, 0.0)",
    "• Payouts: 0 paid, 0 failed (avg 0.0, 0.0)",
]


def block(text: str, currency: str) -> list[str]:
    """The six lines of one currency in a summary's text."""
    lines = text.split("\n")
    start = lines.index(f"*{currency}*")
    return lines[start : start + 6]
