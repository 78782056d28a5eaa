"""What a storm summary records of each alert, and the CSV that lists them all.

Facts are taken from the event when its alert is queued and stored with the
outbox row (`OutboxMessage.facts`), so a summary of 20,000 alerts reads one
small JSON each instead of the events' payloads.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.money import to_major_str
from bot.stripe_shapes import as_int, as_str, event_object, expandable_id

# Failures lead the summary, in this order, before every other type.
FAILURE_TYPES = (
    "charge.failed",
    "payment_intent.payment_failed",
    "payout.failed",
    "refund.failed",
)

CSV_COLUMNS = (
    "created",
    "event_id",
    "type",
    "object_id",
    "amount_minor",
    "amount",
    "currency",
    "status",
    "customer",
)

# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): these
# first characters, tab and carriage return included.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class StormRow:
    """One alert as a storm summary and its CSV see it."""

    created: int
    event_id: str
    type: str
    object_id: str | None
    amount: int | None  # minor units
    currency: str | None
    status: str | None
    customer: str | None

    @property
    def failed(self) -> bool:
        return self.type in FAILURE_TYPES

    def as_facts(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "event": self.event_id,
            "type": self.type,
            "object": self.object_id,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "customer": self.customer,
        }

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> StormRow:
        return cls(
            created=as_int(facts.get("created")) or 0,
            event_id=as_str(facts.get("event")) or "",
            type=as_str(facts.get("type")) or "",
            object_id=as_str(facts.get("object")),
            amount=as_int(facts.get("amount")),
            currency=as_str(facts.get("currency")),
            status=as_str(facts.get("status")),
            customer=as_str(facts.get("customer")),
        )


def storm_row(event: Mapping[str, Any]) -> StormRow:
    """What a summary says of `event`: the object's amount (a charge.refunded
    its refunded amount, as its alert does), currency, status, customer."""
    obj = event_object(event)
    event_type = as_str(event.get("type")) or ""
    key = "amount_refunded" if event_type == "charge.refunded" else "amount"
    amount = as_int(obj.get(key))
    currency = as_str(obj.get("currency"))
    return StormRow(
        created=as_int(event.get("created")) or 0,
        event_id=as_str(event.get("id")) or "",
        type=event_type,
        object_id=as_str(obj.get("id")),
        amount=amount if currency else None,
        currency=currency.lower() if currency and amount is not None else None,
        status=as_str(obj.get("status")),
        customer=expandable_id(obj.get("customer")),
    )


def _safe(cell: str | None) -> str:
    """Text from Stripe, made inert for spreadsheets: a leading apostrophe
    keeps `=HYPERLINK(…)` a string (Excel, LibreOffice and Sheets hide it)."""
    if not cell:
        return ""
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


def _iso(created: int) -> str:
    if created <= 0:
        return ""
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_csv(rows: Iterable[StormRow]) -> bytes:
    """Every row, in the order given, as UTF-8 CSV with a header line.

    Numbers are ours (ints formatted here), so only the text cells, which
    come from Stripe, are guarded against formula injection.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        minor = major = ""
        if row.amount is not None and row.currency is not None:
            minor, major = str(row.amount), to_major_str(row.amount, row.currency)
        writer.writerow(
            (
                _iso(row.created),
                _safe(row.event_id),
                _safe(row.type),
                _safe(row.object_id),
                minor,
                major,
                _safe(row.currency.upper() if row.currency else None),
                _safe(row.status),
                _safe(row.customer),
            )
        )
    return out.getvalue().encode("utf-8")
