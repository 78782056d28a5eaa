"""The daily summary's figures, counted from stored Stripe events (pure).

One payment is counted once, though Stripe describes it twice:
- a PaymentIntent payment by `payment_intent.succeeded` (its
  `amount_received`, what was captured); its `charge.succeeded` is skipped.
  A charge succeeds at authorisation, before a manual capture, so counting
  charges would count money not yet taken.
- a charge made without a PaymentIntent (the Charges API) by
  `charge.succeeded`, when captured.
Failed payments likewise: `payment_intent.payment_failed` per failed
attempt, `charge.failed` only for charges without a PaymentIntent.
Refunds by refund ID, from `refund.created`, and from the refunds listed in a
`charge.refunded` (older API versions list them there), so one refund seen in
both counts once; refunds that failed or were canceled at creation are not
counted. Disputes by dispute ID (`charge.dispute.created`, and
`charge.dispute.closed` as won or lost), payouts by payout ID (`payout.paid`,
`payout.failed`).

Only the platform's own money: events of a connected account (`account`
set) are left out. Muted events are stored like any other, so they count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime, tzinfo
from typing import Any

from storage.daily_summaries import StoredEvent

COUNTED_TYPES = (
    "payment_intent.succeeded",
    "charge.succeeded",
    "payment_intent.payment_failed",
    "charge.failed",
    "refund.created",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "payout.paid",
    "payout.failed",
)
_NOT_REFUNDED = frozenset({"failed", "canceled"})


@dataclass
class DayFigures:
    """One currency's figures for one day; amounts in minor units."""

    payments: int = 0
    gross: int = 0
    failed: int = 0
    refunds: int = 0
    refunded: int = 0
    disputes_opened: int = 0
    disputes_won: int = 0
    disputes_lost: int = 0
    payouts_paid: int = 0
    payouts_failed: int = 0

    def add(self, other: DayFigures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing that happened, counted once by its `key`."""

    key: str
    day: date
    currency: str
    field: str
    amount_field: str | None = None
    amount: int = 0


# (day, currency) -> figures
Table = dict[tuple[date, str], DayFigures]


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])  # an expanded object
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _currency(obj: dict[str, Any]) -> str:
    return str(obj.get("currency") or "").lower()


def facts_of(
    event_id: str, type_: str, created: int, obj: dict[str, Any], zone: tzinfo
) -> list[Fact]:
    """What one event says, in the terms the summary counts."""

    def day_of(ts: int) -> date:
        return datetime.fromtimestamp(ts, zone).date()

    day = day_of(created)
    oid = _str(obj.get("id")) or ""
    cur = _currency(obj)
    if type_ == "payment_intent.succeeded":
        amount = _int(obj.get("amount_received")) or _int(obj.get("amount"))
        return [Fact(f"pay:{oid}", day, cur, "payments", "gross", amount)]
    if type_ == "charge.succeeded":
        if _str(obj.get("payment_intent")) or obj.get("captured") is False:
            return []
        amount = _int(obj.get("amount_captured")) or _int(obj.get("amount"))
        return [Fact(f"pay:{oid}", day, cur, "payments", "gross", amount)]
    if type_ == "payment_intent.payment_failed":
        # Each failed attempt is its own event; the event's own ID keys it.
        return [Fact(f"fail:{event_id}", day, cur, "failed")]
    if type_ == "charge.failed":
        if _str(obj.get("payment_intent")):
            return []
        return [Fact(f"fail:{oid}", day, cur, "failed")]
    if type_ == "refund.created":
        return _refund_fact(obj, zone)
    if type_ == "charge.refunded":
        listed = obj.get("refunds")
        data = listed.get("data") if isinstance(listed, dict) else None
        out: list[Fact] = []
        for refund in data if isinstance(data, list) else []:
            if isinstance(refund, dict):
                out += _refund_fact(refund, zone)
        return out
    if type_ == "charge.dispute.created":
        return [Fact(f"dp-open:{oid}", day, cur, "disputes_opened")]
    if type_ == "charge.dispute.closed":
        status = obj.get("status")
        if status in ("won", "lost"):
            return [Fact(f"dp-close:{oid}", day, cur, f"disputes_{status}")]
        return []
    if type_ == "payout.paid":
        return [Fact(f"po-paid:{oid}", day, cur, "payouts_paid")]
    if type_ == "payout.failed":
        return [Fact(f"po-failed:{oid}", day, cur, "payouts_failed")]
    return []


def _refund_fact(refund: dict[str, Any], zone: tzinfo) -> list[Fact]:
    rid = _str(refund.get("id"))
    if rid is None or refund.get("status") in _NOT_REFUNDED:
        return []
    created = _int(refund.get("created"))
    day = datetime.fromtimestamp(created, zone).date()
    amount = _int(refund.get("amount"))
    return [Fact(f"re:{rid}", day, _currency(refund), "refunds", "refunded", amount)]


def tally(
    events: Iterable[StoredEvent],
    zone: tzinfo,
    table: Table | None = None,
    seen: set[str] | None = None,
) -> Table:
    """Add the events' facts to `table` (a key already in `seen` counts once)."""
    table = {} if table is None else table
    seen = set() if seen is None else seen
    for event in events:
        try:
            parsed = json.loads(event.payload)
        except ValueError:
            continue
        if not isinstance(parsed, dict) or parsed.get("account"):
            continue
        data = parsed.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            continue
        for fact in facts_of(event.id, event.type, event.created, obj, zone):
            if fact.key in seen or not fact.currency:
                continue
            seen.add(fact.key)
            figures = table.setdefault((fact.day, fact.currency), DayFigures())
            setattr(figures, fact.field, getattr(figures, fact.field) + 1)
            if fact.amount_field:
                total = getattr(figures, fact.amount_field) + fact.amount
                setattr(figures, fact.amount_field, total)
    return table
