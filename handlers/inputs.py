"""Reading what Slack hands back to us: button values and modal private_metadata.

We wrote them, but a request is only as good as what arrives: a value that
does not parse, or names no object of the right kind, reads as None here and
the listener says so instead of failing (or sending it on to Stripe).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from bot.stripe_shapes import is_account_id

# Stripe IDs: a prefix, then letters and digits; nothing a database or Stripe
# would choke on (a NUL, quotes, spaces) and short enough for our columns.
_DISPUTE_ID = re.compile(r"(?:dp|du)_[A-Za-z0-9]{1,250}")
_PAYMENT_ID = re.compile(r"(?:pi|ch)_[A-Za-z0-9]{1,250}")
_CURRENCY = re.compile(r"[a-z]{3}")
# Row IDs are integers the databases can hold (PostgreSQL INTEGER).
_ROW_ID_MAX = 2**31 - 1


def dispute_id(value: object) -> str | None:
    """A dispute ID (`dp_…`, or `du_…` for an inquiry), else None."""
    if isinstance(value, str) and _DISPUTE_ID.fullmatch(value):
        return value
    return None


def payment_id(value: object) -> str | None:
    """A PaymentIntent or charge ID, else None."""
    if isinstance(value, str) and _PAYMENT_ID.fullmatch(value):
        return value
    return None


def account(value: object) -> str | None:
    """A connected account ID (`acct_…`), else None."""
    return value if is_account_id(value) else None


def currency(value: object) -> str | None:
    """A lowercase ISO currency code, else None."""
    if isinstance(value, str) and _CURRENCY.fullmatch(value):
        return value
    return None


def row_id(value: object) -> int | None:
    """A positive row ID given as an int or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and 0 < value <= _ROW_ID_MAX:
        return value
    return None


def amount(value: object) -> int | None:
    """A non-negative amount in minor units, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def json_object(value: object) -> dict[str, Any] | None:
    """A JSON object given as text, else None."""
    if not isinstance(value, str):
        return None
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def action_value(body: dict[str, Any]) -> object:
    """The clicked element's value; None if the click carries none."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return None
    first = actions[0]
    return first.get("value") if isinstance(first, dict) else None


# Typed into a modal: newlines and tabs are text, other control characters
# (a NUL, an escape) are not, and PostgreSQL cannot even store a NUL.
CONTROL_CHARACTER = (
    "This has an invisible control character in it (often pasted along with "
    "text). Type it again without it."
)
_TEXT_CONTROLS = frozenset("\t\n\r")


def has_control_character(text: str) -> bool:
    return any(
        unicodedata.category(c) == "Cc" and c not in _TEXT_CONTROLS for c in text
    )
