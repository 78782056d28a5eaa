"""What a person typed: an email or a Stripe ID of an allowed kind."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_ID = r"[A-Za-z0-9]+"
_EMAIL = re.compile(r"[^@\s<>|]+@[^@\s<>|]+\.[^@\s<>|]+")
# Slack may send an email it auto-linked as <mailto:a@b.c|a@b.c>.
_MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>")

LookupKind = Literal["email", "customer", "payment_intent", "charge", "refund"]
_PREFIXES: dict[str, LookupKind] = {
    "cus_": "customer",
    "pi_": "payment_intent",
    "ch_": "charge",
    "re_": "refund",
}


@dataclass(frozen=True)
class Query:
    kind: LookupKind
    value: str


def parse_query(text: str, *, allowed: frozenset[LookupKind]) -> Query | None:
    """What a person typed, as an ID or email of an allowed kind; None if neither."""
    raw = text.strip()
    mailto = _MAILTO.fullmatch(raw)
    if mailto:
        raw = mailto.group(1)
    # Slack sends &, < and > in command text as entities: ask Stripe for
    # what was typed.
    raw = raw.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    for prefix, kind in _PREFIXES.items():
        if raw.startswith(prefix):
            if kind in allowed and re.fullmatch(re.escape(prefix) + _ID, raw):
                return Query(kind, raw)
            return None
    if "email" in allowed and _EMAIL.fullmatch(raw):
        return Query("email", raw)
    return None
