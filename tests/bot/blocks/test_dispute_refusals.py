"""Every dispute refusal has its words, through the one entry point the failure
wrapper calls, with what came from Stripe or a person escaped once."""

from __future__ import annotations

from typing import Any

import pytest

from bot import disputes
from bot.blocks.refusals import refusal_text
from bot.dispute_refusals import (
    NoDisputeNamed,
    NotAnswerable,
    NotClaimed,
    OnlyManagersAccept,
    OnlySupportAnswers,
    UnknownDispute,
    cannot_answer,
)
from bot.refusals import DisputeRefused
from storage.models import Dispute
from tests.support import dispute as dispute_object

NOW = 1_750_000_000.0


def row(**overrides: Any) -> Dispute:
    values = disputes.object_values(dispute_object(created=int(NOW)))
    values.update(overrides)
    return Dispute(**values, updated_at=NOW)


@pytest.mark.parametrize(
    "refused",
    [
        NoDisputeNamed(),
        UnknownDispute("dp_1"),
        NotAnswerable(row(status="lost")),
        NotClaimed("dp_1", "U_AGENT", "submission"),
        OnlyManagersAccept(("U_MANAGER",), None),
        OnlySupportAnswers(),
    ],
)
def test_every_dispute_refusal_is_worded(refused: DisputeRefused) -> None:
    text = refusal_text(refused)
    assert text.strip()
    assert "{" not in text  # no unfilled template


def test_an_unknown_dispute_is_named_escaped_once() -> None:
    text = refusal_text(UnknownDispute("dp_<!channel>&"))
    assert "`dp_&lt;!channel&gt;&amp;`" in text
    assert "<!channel>" not in text
    assert "&amp;lt;" not in text
    assert "/stripe dispute" in text


def test_not_answerable_says_why_from_the_row() -> None:
    submitted = row(submitted_by="U_AGENT", submitted_at=NOW)
    assert "already submitted by <@U_AGENT>" in refusal_text(NotAnswerable(submitted))
    accepted = row(accepted_by="U_MANAGER", accepted_at=NOW)
    assert "<@U_MANAGER> already accepted" in refusal_text(NotAnswerable(accepted))
    in_review = row(status="under_review")
    assert "the bank is reviewing it" in refusal_text(NotAnswerable(in_review))
    assert "closed: warning closed" in refusal_text(
        NotAnswerable(row(status="warning_closed"))
    )
    # Answerable by its row, yet a claim lost a race: still one sentence.
    assert refusal_text(NotAnswerable(row())) == "This dispute is closed."


def test_cannot_answer_tells_unknown_from_not_answerable() -> None:
    assert isinstance(cannot_answer("dp_1", None), UnknownDispute)
    assert isinstance(cannot_answer("dp_1", row()), NotAnswerable)


def test_only_managers_accept_names_whom_to_ask() -> None:
    text = refusal_text(OnlyManagersAccept(("U_M1", "U_M2"), "S_<MGR>"))
    assert text.startswith("Only managers can accept a dispute")
    assert "Ask <@U_M1> or <@U_M2> or <!subteam^S_&lt;MGR&gt;>." in text
    assert refusal_text(OnlyManagersAccept((), None)).endswith("cannot be undone.")
