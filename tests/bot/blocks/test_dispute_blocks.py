"""Dispute Block Kit builders: pure functions, checked without any server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import disputes
from bot.blocks import MESSAGE_BLOCKS_MAX, OPEN_IN_STRIPE_ACTION
from bot.blocks import disputes as blocks
from storage.dispute_reminders import ReminderCandidate
from storage.models import Dispute
from tests.support import dispute as dispute_object

NOW = 1_750_000_000.0
DAY = 86400


def row(**overrides: Any) -> Dispute:
    obj = dispute_object(created=int(NOW) - DAY)
    obj["evidence_details"]["due_by"] = int(NOW) + 5 * DAY
    values = disputes.object_values(obj)
    values.update(overrides)
    return Dispute(**values, updated_at=NOW)


def card(d: Dispute) -> tuple[str, list[dict[str, Any]]]:
    return blocks.dispute_card(
        d, checklist=disputes.checklist(d.reason, d.stripe_evidence), now=NOW
    )


def shown(built: Any) -> str:
    return json.dumps(built)


def action_ids(card_blocks: list[dict[str, Any]]) -> list[str]:
    return [
        e["action_id"]
        for b in card_blocks
        if b["type"] == "actions"
        for e in b["elements"]
        # The *Open in Stripe* link acts on nothing: only buttons that do count.
        if e["action_id"] != OPEN_IN_STRIPE_ACTION
    ]


def test_an_open_dispute_shows_deadline_countdown_and_all_four_buttons() -> None:
    text, built = card(row())
    due_by = int(NOW) + 5 * DAY
    assert f"<!date^{due_by}^" in shown(built)
    assert "(in 5 days)" in shown(built)
    assert "20.00 USD" in text
    assert action_ids(built) == [
        "dispute_edit",
        "dispute_submit",
        "dispute_accept",
        "dispute_take",
    ]
    assert "nobody yet" in shown(built)
    assert len(built) <= MESSAGE_BLOCKS_MAX


def test_no_deadline_means_no_response_is_possible() -> None:
    _, built = card(row(due_by=None))
    assert "the bank allows no response" in shown(built)
    assert "<!date^" not in shown(built[2])


@pytest.mark.parametrize(
    ("status", "title"),
    [
        ("won", "Dispute won"),
        ("lost", "Dispute lost"),
        ("warning_closed", "Inquiry closed"),
        ("under_review", "Dispute under review"),
    ],
)
def test_a_dispute_past_answering_has_no_buttons(status: str, title: str) -> None:
    text, built = card(row(status=status))
    assert title in shown(built[0])
    assert action_ids(built) == []
    assert "Respond by" not in shown(built)


def test_submitted_and_accepted_say_who_and_when() -> None:
    _, built = card(
        row(
            status="under_review",
            submission_count=1,
            submitted_by="U_AGENT",
            submitted_at=NOW,
        )
    )
    assert "submitted by <@U_AGENT> <!date^1750000000^" in shown(built)
    _, built = card(row(status="lost", accepted_by="U_MANAGER", accepted_at=NOW))
    assert "Dispute accepted (lost)" in shown(built)
    assert "by <@U_MANAGER>" in shown(built)


def test_stripe_and_people_text_is_escaped() -> None:
    d = row(
        customer_name="<!channel> & friends",
        customer_email="<mailto:x@y.z|x>",
        stripe_evidence={"product_description": "<!here> shoes"},
        taken_by="U1<@U2>",
    )
    _, built = card(d)
    said = shown(built)
    assert "<!channel>" not in said
    assert "&lt;!channel&gt; &amp; friends" in said
    assert "<mailto:" not in said
    reply_text, reply = blocks.lookup_reply(
        [(d, disputes.checklist(d.reason, d.stripe_evidence))],
        disputes.EVIDENCE_FIELDS,
        now=NOW,
    )
    assert "<!here>" not in shown(reply)
    assert "&lt;!here&gt; shoes" in shown(reply)
    assert "<@U2>" not in shown(reply)


def test_the_checklist_follows_the_reason_and_what_is_filled() -> None:
    d = row(stripe_evidence={"shipping_carrier": "UPS", "product_description": "x"})
    _, built = card(d)
    said = shown(built)
    assert ":white_check_mark: Shipping carrier" in said
    assert ":white_large_square: Tracking number" in said
    assert "2 of 7 recommended fields filled" in said

    dup = row(reason="duplicate")
    assert ":white_large_square: ID of the other charge" in shown(card(dup)[1])
    assert "Tracking number" not in shown(card(dup)[1])


def test_the_evidence_form_has_the_reasons_fields_and_fits_a_modal() -> None:
    d = row(
        reason="subscription_canceled",
        stripe_evidence={
            "cancellation_rebuttal": "kept using it",
            "cancellation_policy": "file_1",
        },
        evidence_files={"cancellation_policy": {"id": "file_1", "name": "policy.pdf"}},
    )
    view = blocks.evidence_modal(
        d,
        fields=disputes.modal_fields(d.reason),
        values={"cancellation_rebuttal": "kept using it", "customer_name": "Jenny"},
        files=d.evidence_files,
        now=NOW,
    )
    assert view["callback_id"] == blocks.VIEW_EVIDENCE
    assert view["private_metadata"] == d.id
    assert len(view["title"]["text"]) <= 24
    assert len(view["blocks"]) <= 100
    elements = {
        b["element"]["action_id"]: b["element"]
        for b in view["blocks"]
        if b["type"] == "input"
    }
    assert list(elements)[:3] == [
        "customer_name",
        "customer_email_address",
        "product_description",
    ]
    assert {
        "cancellation_policy",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
    } <= set(elements)
    assert elements["cancellation_rebuttal"]["initial_value"] == "kept using it"
    assert elements["cancellation_rebuttal"]["multiline"] is True
    assert elements["cancellation_policy"]["type"] == "file_input"
    assert elements["cancellation_policy"]["max_files"] == 1
    assert "Attached now: policy.pdf" in shown(view)


def test_text_longer_than_a_form_field_is_not_cut_silently() -> None:
    long = "x" * (blocks.INPUT_MAX + 1)
    d = row(stripe_evidence={"product_description": long})
    view = blocks.evidence_modal(
        d,
        fields=disputes.modal_fields(d.reason),
        values={"product_description": long},
        files={},
        now=NOW,
    )
    ids = [b.get("block_id") for b in view["blocks"]]
    assert blocks.input_block_id("product_description") not in ids
    assert "change it in the Stripe Dashboard" in shown(view)


def candidate(stage: str, **overrides: Any) -> ReminderCandidate:
    values: dict[str, Any] = {
        "id": "dp_1",
        "amount": 1250,
        "currency": "eur",
        "reason": "product_not_received",
        "status": "needs_response",
        "due_by": int(NOW) + 72 * 3600,
        "taken_by": None,
        "evidence": {},
        "alert_key": "alert:evt_1",
        "alert_channel": "C1",
        "livemode": False,
        "stage": stage,
    }
    values.update(overrides)
    return ReminderCandidate(**values)


def test_a_reminder_says_time_left_what_is_missing_and_who_has_it() -> None:
    c = candidate("72h", taken_by="U_AGENT")
    text, built = blocks.reminder(
        c, missing=disputes.missing(c.reason, c.evidence), now=NOW
    )
    assert text.startswith("<@U_AGENT>")
    assert "12.50 EUR" in text
    assert "is due in 3 days" in text
    assert "Still missing: Product or service description, Shipping carrier" in text

    nobody = candidate("72h")
    text, _ = blocks.reminder(nobody, missing=[], now=NOW)
    assert "Nobody has taken this dispute" in text
    assert "Every recommended field is filled" in text


def test_a_past_due_notice_says_the_deadline_passed() -> None:
    c = candidate("past_due", due_by=int(NOW) - 7200)
    text, _ = blocks.reminder(c, missing=[], now=NOW)
    assert "passed" in text
    assert "overdue by 2 hours" in text


def test_the_list_keeps_the_order_it_is_given_and_says_what_is_not_shown() -> None:
    soon = row(due_by=int(NOW) + DAY)
    later = row(due_by=int(NOW) + 9 * DAY, taken_by="U_AGENT")
    items = [
        (d, disputes.checklist(d.reason, d.stripe_evidence)) for d in (soon, later)
    ]
    title, built = blocks.dispute_list(items, total=30, in_review=2, now=NOW)
    said = shown(built)
    assert said.index(soon.id) < said.index(later.id)
    assert "28 more not shown" in said
    assert "2 under review" in said
    assert "taken by <@U_AGENT>" in said
    empty_text, _ = blocks.dispute_list([], total=0, in_review=0, now=NOW)
    assert empty_text == "No dispute is waiting for an answer."


def test_refusals_name_who_already_acted() -> None:
    assert blocks.answer_blocked(row()) is None
    submitted = row(submitted_by="U_AGENT", submitted_at=NOW)
    assert "already submitted by <@U_AGENT>" in (blocks.answer_blocked(submitted) or "")
    dashboard = row(status="under_review", submission_count=1)
    assert "Stripe Dashboard" in (blocks.answer_blocked(dashboard) or "")
    assert "closed: won" in (blocks.answer_blocked(row(status="won")) or "")
