"""Dispute evidence: the form, files, staging on Stripe, and the one submission."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.blocks import disputes as blocks
from bot.config import Settings
from bot.deps import Deps
from bot.server import DEPS, Options
from simulators.slack import FakeSlack
from simulators.stripe import FakeStripe
from tests.conftest import FAST, AppFactory, ManualClock
from tests.handlers.helpers import Client, Json, eventually, text_of
from tests.handlers.test_disputes import (
    audit_of,
    card_saying,
    dispute_row,
    open_dispute,
    opened_view,
    press,
    submit_view,
    thread_reply,
    view_update_saying,
)
from tests.settle import bolt_idle

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64


def text_input(value: str) -> Json:
    return {"type": "plain_text_input", "value": value}


def file_input(*files: Json) -> Json:
    return {"type": "file_input", "files": list(files)}


def form(**fields: Json) -> dict[str, dict[str, Json]]:
    """A submitted evidence form: {evidence field: element state}."""
    return {blocks.input_block_id(name): {name: s} for name, s in fields.items()}


def inputs(view: Json) -> dict[str, Json]:
    """The form's input elements by evidence field."""
    return {
        block["element"]["action_id"]: block["element"]
        for block in view["blocks"]
        if block["type"] == "input"
    }


def dispute_updates(fake_stripe: FakeStripe, dispute_id: str) -> list[Any]:
    return fake_stripe.requests_to("POST", f"/v1/disputes/{dispute_id}")


def submissions(fake_stripe: FakeStripe, dispute_id: str) -> list[Any]:
    return [
        r
        for r in dispute_updates(fake_stripe, dispute_id)
        if r.path == f"/v1/disputes/{dispute_id}" and r.params.get("submit") == "true"
    ]


async def test_edit_opens_at_once_then_shows_the_fields_for_the_reason(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    await press(client, fake_slack, blocks.ACTION_EDIT, dispute["id"])
    loading = await opened_view(fake_slack)
    assert "Reading the dispute" in json.dumps(loading)

    form_view = await view_update_saying(fake_slack, "V0FAKE", "Save evidence")
    fields = inputs(form_view)
    for name in (
        "shipping_carrier",
        "shipping_tracking_number",
        "shipping_date",
        "shipping_address",
        "shipping_documentation",
        "product_description",
        "uncategorized_text",
    ):
        assert name in fields, name
    assert "duplicate_charge_id" not in fields
    # Prefilled from the charge and its customer.
    assert fields["customer_name"]["initial_value"] == "Jenny Rosen"
    assert fields["customer_email_address"]["initial_value"] == "jenny@example.com"
    assert "1 Main St" in fields["shipping_address"]["initial_value"]
    assert fields["product_description"]["initial_value"] == (
        "Blue running shoes, size 42"
    )
    assert "Purchased on" in fields["uncategorized_text"]["initial_value"]
    assert fields["shipping_documentation"]["type"] == "file_input"
    assert set(fields["shipping_documentation"]["filetypes"]) >= {"pdf", "png", "jpg"}
    charge_read = fake_stripe.requests_to("GET", f"/v1/charges/{dispute['charge']}")
    assert charge_read[0].params == {"expand": ["customer"]}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (
            "subscription_canceled",
            {
                "cancellation_policy",
                "cancellation_policy_disclosure",
                "cancellation_rebuttal",
            },
        ),
        (
            "duplicate",
            {
                "duplicate_charge_id",
                "duplicate_charge_explanation",
                "duplicate_charge_documentation",
            },
        ),
        (
            "credit_not_processed",
            {"refund_policy", "refund_policy_disclosure", "refund_refusal_explanation"},
        ),
        (
            "fraudulent",
            {"customer_communication", "access_activity_log", "billing_address"},
        ),
    ],
)
async def test_each_reason_gets_its_own_fields(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    reason: str,
    expected: set[str],
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack, reason=reason)
    await press(client, fake_slack, blocks.ACTION_EDIT, dispute["id"])
    await opened_view(fake_slack)
    form_view = await view_update_saying(fake_slack, "V0FAKE", "Save evidence")
    fields = set(inputs(form_view))
    assert expected <= fields
    assert {"product_description", "uncategorized_text"} <= fields
    assert "shipping_tracking_number" not in fields


async def test_saving_stages_evidence_on_stripe_with_stripes_field_names(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, alert = await open_dispute(client, fake_stripe, fake_slack)
    label = fake_slack.add_file(
        PDF, name="label.pdf", mimetype="application/pdf", filetype="pdf"
    )
    answer = await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        dispute["id"],
        state=form(
            shipping_carrier=text_input("UPS"),
            shipping_tracking_number=text_input("1Z999AA10123456784"),
            shipping_date=text_input("2025-03-14"),
            product_description=text_input("Blue running shoes, size 42"),
            shipping_documentation=file_input(label),
        ),
    )
    assert answer["response_action"] == "update"
    saved = await view_update_saying(fake_slack, "V_DISPUTE", "Saved on Stripe")
    assert "Tracking number" in json.dumps(saved)

    (upload,) = fake_stripe.requests_to("POST", "/v1/files")
    assert upload.params["purpose"] == "dispute_evidence"
    assert upload.params["file"]["filename"] == "label.pdf"
    assert upload.files["file"] == PDF
    assert upload.idempotency_key
    row = await dispute_row(deps, dispute["id"])
    file_id = row.evidence_files["shipping_documentation"]["id"]
    assert fake_stripe.file_contents(file_id) == PDF

    (staged,) = dispute_updates(fake_stripe, dispute["id"])
    evidence = staged.params["evidence"]
    assert evidence["shipping_tracking_number"] == "1Z999AA10123456784"
    assert evidence["shipping_carrier"] == "UPS"
    assert evidence["shipping_documentation"] == file_id
    assert staged.params["submit"] == "false"
    assert staged.idempotency_key.startswith(f"dispute-evidence:{dispute['id']}:")
    # Stripe has it, not yet submitted; so do we.
    on_stripe = fake_stripe.object(dispute["id"])
    assert on_stripe["evidence"]["shipping_tracking_number"] == "1Z999AA10123456784"
    assert on_stripe["evidence_details"]["submission_count"] == 0
    row = await dispute_row(deps, dispute["id"])
    assert row.stripe_evidence["shipping_documentation"] == file_id
    assert row.evidence_files["shipping_documentation"]["name"] == "label.pdf"
    assert ("U_AGENT", "dispute.evidence_saved") in await audit_of(deps, dispute["id"])
    # The card's checklist and the thread say so.
    await card_saying(fake_slack, alert, "5 of 7 recommended fields filled")
    await thread_reply(fake_slack, alert, "saved evidence on Stripe")


async def test_saving_the_same_form_twice_sends_nothing_new(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    state = form(shipping_carrier=text_input("DHL"))
    await submit_view(client, blocks.VIEW_EVIDENCE, dispute["id"], state=state)
    await view_update_saying(fake_slack, "V_DISPUTE", "Saved on Stripe")
    await submit_view(
        client, blocks.VIEW_EVIDENCE, dispute["id"], state=state, view_id="V2"
    )
    await view_update_saying(fake_slack, "V2", "Nothing changed")
    assert len(dispute_updates(fake_stripe, dispute["id"])) == 1


@pytest.mark.parametrize(
    ("name", "content", "mimetype", "filetype", "says"),
    [
        (
            "scan.pdf",
            b"%PDF-1.7\n" + b"0" * (5 * 1024 * 1024),
            "application/pdf",
            "pdf",
            "5.0 MB",
        ),
        ("photo.gif", GIF, "image/gif", "gif", "GIF"),
        ("invoice.docx", b"PK\x03\x04", "application/msword", "docx", "DOCX"),
        # Named and typed as a PDF, but it is a web page.
        ("receipt.pdf", b"<html>nope</html>", "application/pdf", "pdf", "not really"),
    ],
    ids=["too-large", "gif", "docx", "disguised"],
)
async def test_files_stripe_would_refuse_are_refused_on_the_form(
    client: Client,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    name: str,
    content: bytes,
    mimetype: str,
    filetype: str,
    says: str,
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    bad = fake_slack.add_file(content, name=name, mimetype=mimetype, filetype=filetype)
    answer = await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        dispute["id"],
        state=form(
            shipping_carrier=text_input("UPS"), shipping_documentation=file_input(bad)
        ),
    )
    assert answer["response_action"] == "errors"
    error = answer["errors"][blocks.input_block_id("shipping_documentation")]
    assert name in error
    assert says in error
    assert "PDF, JPEG or PNG" in error
    await bolt_idle()
    assert fake_stripe.requests_to("POST", "/v1/files") == []
    assert dispute_updates(fake_stripe, dispute["id"]) == []


async def test_a_disguised_file_is_refused_after_the_ack_when_slack_is_slow(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    bad = fake_slack.add_file(
        b"<html>nope</html>",
        name="receipt.pdf",
        mimetype="application/pdf",
        filetype="pdf",
    )
    # files.info alone uses up the time the answer may spend on downloads.
    fake_slack.latency = 1.6
    answer = await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        dispute["id"],
        state=form(
            shipping_carrier=text_input("UPS"), shipping_documentation=file_input(bad)
        ),
    )
    assert answer["response_action"] == "update"
    again = await view_update_saying(fake_slack, "V_DISPUTE", "Nothing was saved")
    fields = inputs(again)
    assert fields["shipping_carrier"]["initial_value"] == "UPS"  # kept what was typed
    assert "receipt.pdf is not really a PDF" in json.dumps(again)
    assert fake_stripe.requests_to("POST", "/v1/files") == []
    assert dispute_updates(fake_stripe, dispute["id"]) == []


async def test_a_png_is_taken(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    shot = fake_slack.add_file(
        PNG, name="chat.png", mimetype="image/png", filetype="png"
    )
    await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        dispute["id"],
        state=form(customer_communication=file_input(shot)),
    )
    await view_update_saying(fake_slack, "V_DISPUTE", "Saved on Stripe")
    (staged,) = dispute_updates(fake_stripe, dispute["id"])
    assert staged.params["evidence"]["customer_communication"].startswith("file_")


# -- submission ---------------------------------------------------------------


async def test_submit_asks_first_and_shows_what_is_missing(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        dispute["id"],
        state=form(shipping_carrier=text_input("UPS")),
    )
    await view_update_saying(fake_slack, "V_DISPUTE", "Saved on Stripe")
    await press(client, fake_slack, blocks.ACTION_SUBMIT, dispute["id"])
    confirm = await opened_view(fake_slack)
    said = json.dumps(confirm)
    assert confirm["callback_id"] == blocks.VIEW_SUBMIT
    assert "one* submission" in said
    assert "Still missing" in said
    assert "Tracking number" in said
    assert "Shipping carrier" in said  # shown as evidence so far
    assert submissions(fake_stripe, dispute["id"]) == []


async def test_submitting_records_who_and_when_and_happens_once(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, alert = await open_dispute(client, fake_stripe, fake_slack)
    answer = await submit_view(client, blocks.VIEW_SUBMIT, dispute["id"])
    assert answer["response_action"] == "update"
    done = await view_update_saying(fake_slack, "V_DISPUTE", "submitted to Stripe by")
    assert "<@U_AGENT>" in json.dumps(done)

    (sent,) = submissions(fake_stripe, dispute["id"])
    assert sent.idempotency_key == f"dispute-submit:{dispute['id']}:r0"
    assert fake_stripe.object(dispute["id"])["status"] == "under_review"
    edited = await card_saying(fake_slack, alert, "under review")
    assert "submitted by <@U_AGENT>" in text_of(edited)
    assert blocks.ACTION_SUBMIT not in json.dumps(edited["blocks"])
    await thread_reply(fake_slack, alert, "Evidence submitted to Stripe by <@U_AGENT>")
    row = await dispute_row(deps, dispute["id"])
    assert row.submitted_by == "U_AGENT"
    assert row.submitted_at is not None
    assert ("U_AGENT", "dispute.evidence_submitted") in await audit_of(
        deps, dispute["id"]
    )
    metrics = await (await client.get("/metrics")).text()
    assert 'operation="disputes.submit",outcome="ok"} 1.0' in metrics

    # A second try is refused, at the button and at a (stale) confirmation.
    await press(client, fake_slack, blocks.ACTION_SUBMIT, dispute["id"], user_id="U_B")
    refusal = await opened_view(fake_slack)
    assert "already submitted by <@U_AGENT>" in json.dumps(refusal)
    again = await submit_view(client, blocks.VIEW_SUBMIT, dispute["id"], user_id="U_B")
    assert "already submitted by <@U_AGENT>" in json.dumps(again["view"])
    await bolt_idle()
    assert len(submissions(fake_stripe, dispute["id"])) == 1


async def test_two_people_submitting_at_once_make_one_submission(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    answers = await asyncio.gather(
        submit_view(
            client, blocks.VIEW_SUBMIT, dispute["id"], user_id="U_ONE", view_id="V1"
        ),
        submit_view(
            client, blocks.VIEW_SUBMIT, dispute["id"], user_id="U_TWO", view_id="V2"
        ),
    )
    row = await dispute_row(deps, dispute["id"])
    winner = row.submitted_by
    assert winner in ("U_ONE", "U_TWO")
    said = [json.dumps(a["view"]) for a in answers]
    # The loser is told who won; the winner sees the submission under way.
    assert sum(f"already submitted by <@{winner}>" in s for s in said) == 1
    assert sum("Submitting the evidence" in s for s in said) == 1

    async def submitted() -> bool:
        return (await dispute_row(deps, dispute["id"])).status == "under_review"

    await eventually(submitted, what="the submission to finish")
    await bolt_idle()
    assert len(submissions(fake_stripe, dispute["id"])) == 1


async def test_a_refused_submission_can_be_tried_again(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack, deps: Deps
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    fake_stripe.fail_next(
        "POST",
        f"/v1/disputes/{dispute['id']}",
        status=400,
        error={"type": "invalid_request_error", "message": "Evidence is incomplete."},
    )
    await submit_view(client, blocks.VIEW_SUBMIT, dispute["id"])
    failed = await view_update_saying(
        fake_slack, "V_DISPUTE", "Stripe refused the submission"
    )
    assert "Evidence is incomplete." in json.dumps(failed)

    async def released() -> bool:
        return (await dispute_row(deps, dispute["id"])).submitted_by is None

    await eventually(released, what="the claim to be released")
    await submit_view(client, blocks.VIEW_SUBMIT, dispute["id"], view_id="V2")
    await view_update_saying(fake_slack, "V2", "submitted to Stripe by")
    assert fake_stripe.object(dispute["id"])["status"] == "under_review"


async def test_evidence_cannot_be_changed_after_submission(
    client: Client, fake_stripe: FakeStripe, fake_slack: FakeSlack
) -> None:
    dispute, _ = await open_dispute(client, fake_stripe, fake_slack)
    await submit_view(client, blocks.VIEW_SUBMIT, dispute["id"])
    await view_update_saying(fake_slack, "V_DISPUTE", "submitted to Stripe by")
    answer = await submit_view(
        client,
        blocks.VIEW_EVIDENCE,
        dispute["id"],
        state=form(shipping_carrier=text_input("UPS")),
        view_id="V2",
    )
    assert "already submitted" in json.dumps(answer["view"])
    await press(client, fake_slack, blocks.ACTION_EDIT, dispute["id"])
    await opened_view(fake_slack)
    await view_update_saying(fake_slack, "V0FAKE", "already submitted")


async def test_a_submission_whose_answer_was_lost_is_finished_at_start_up(
    settings: Settings,
    fake_stripe: FakeStripe,
    fake_slack: FakeSlack,
    start_app: AppFactory,
) -> None:
    clock = ManualClock()
    first = await start_app(settings, clock=clock)
    dispute, alert = await open_dispute(first, fake_stripe, fake_slack)
    # Stripe submits, but its answer never reaches us.
    fake_stripe.fail_next(
        "POST",
        f"/v1/disputes/{dispute['id']}",
        status=500,
        after_execute=True,
        should_retry=False,
    )
    await submit_view(first, blocks.VIEW_SUBMIT, dispute["id"])
    waiting = await view_update_saying(fake_slack, "V_DISPUTE", "did not answer")
    assert "same idempotency key" in json.dumps(waiting)
    assert fake_stripe.object(dispute["id"])["status"] == "under_review"
    await first.close()

    # The next start resends it with the same key: a replay, not a second one.
    # (In the background: the server serves meanwhile.)
    clock.advance(600)
    second = await start_app(settings, Options(policy=FAST), clock=clock)
    assert second.app is not None
    deps = second.app[DEPS]
    await thread_reply(fake_slack, alert, "Evidence submitted to Stripe by <@U_AGENT>")
    row = await dispute_row(deps, dispute["id"])
    assert row.status == "under_review"
    assert row.submitted_by == "U_AGENT"
    keys = {r.idempotency_key for r in submissions(fake_stripe, dispute["id"])}
    assert keys == {f"dispute-submit:{dispute['id']}:r0"}
    assert (
        fake_stripe.object(dispute["id"])["evidence_details"]["submission_count"] == 1
    )
