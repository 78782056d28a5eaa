"""Which dispute statuses mean what: the one definition the bot uses.

Stripe's statuses (inquiries are the `warning_*` ones): answerable until
evidence is submitted or the dispute accepted, then under review, then closed.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col

from storage.models import Dispute

# Evidence can be changed and submitted, or the dispute accepted, only in these.
ANSWERABLE = frozenset({"needs_response", "warning_needs_response"})
UNDER_REVIEW = frozenset({"under_review", "warning_under_review"})
CLOSED = frozenset({"won", "lost", "warning_closed", "prevented"})


def is_answerable(row: Dispute) -> bool:
    """Evidence may still be changed and submitted, or the dispute accepted."""
    return (
        row.status in ANSWERABLE
        and row.submitted_by is None
        and row.accepted_by is None
        and row.submission_count == 0
    )


def open_to_answer() -> list[ColumnElement[bool]]:
    """Most of `is_answerable` as SQL: what every claim on a dispute needs (a
    submission claim checks the submission count too)."""
    return [
        col(Dispute.status).in_(sorted(ANSWERABLE)),
        col(Dispute.submitted_by).is_(None),
        col(Dispute.accepted_by).is_(None),
    ]
