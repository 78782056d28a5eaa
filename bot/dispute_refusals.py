"""Why a dispute action is refused, as values; the words are in
`bot.blocks.dispute_refusals`.

Kept apart from `bot.disputes` so the builders can match on them without
importing the domain (which imports the builders).
"""

from __future__ import annotations

from bot.refusals import DisputeRefused
from storage.models import Dispute


class NoDisputeNamed(DisputeRefused):
    """A button whose value names no dispute (forged, or from an old message)."""


class UnknownDispute(DisputeRefused):
    """The bot has no row for this dispute (`/stripe dispute` loads it)."""

    def __init__(self, dispute_id: str) -> None:
        super().__init__(dispute_id)
        self.dispute_id = dispute_id


class NotAnswerable(DisputeRefused):
    """The dispute takes no more evidence, submission or acceptance: already
    submitted or accepted, under review, or closed. The row says which."""

    def __init__(self, row: Dispute) -> None:
        super().__init__(row.id)
        self.row = row


class NotClaimed(DisputeRefused):
    """A submission or acceptance sent for someone who does not hold its claim."""

    def __init__(self, dispute_id: str, user_id: str, answer: str) -> None:
        super().__init__(dispute_id, user_id, answer)
        self.dispute_id = dispute_id
        self.user_id = user_id
        self.answer = answer  # "submission" or "acceptance"


class OnlyManagersAccept(DisputeRefused):
    """Accepting gives the money away for good: managers only, named so the
    person knows whom to ask."""

    def __init__(self, managers: tuple[str, ...], usergroup: str | None) -> None:
        super().__init__(managers, usergroup)
        self.managers = managers
        self.usergroup = usergroup


class OnlySupportAnswers(DisputeRefused):
    """Evidence is submitted by the support team only."""


class OtherMode(DisputeRefused):
    """The dispute lives in the other mode (test or live) than the bot's key,
    which cannot act on it."""

    def __init__(self, row: Dispute) -> None:
        super().__init__(row.id)
        self.row = row


def cannot_answer(dispute_id: str, row: Dispute | None) -> DisputeRefused:
    """Why a dispute takes no evidence or answer now: unknown, or its row."""
    return UnknownDispute(dispute_id) if row is None else NotAnswerable(row)
