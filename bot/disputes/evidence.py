"""Evidence: the form's starting values, and staging what someone saved on
Stripe (`submit=false`) before anyone submits it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe

from bot.blocks import disputes as blocks
from bot.blocks.modes import mode_mismatch
from bot.connect import on_account
from bot.deps import Deps
from bot.dispute_refusals import OtherMode, cannot_answer
from bot.disputes.cards import record_and_show
from bot.disputes.customers import read_charge, record_customer
from bot.disputes.lookup import load
from bot.disputes.state import apply_object, customer_of, plain, snapshot
from bot.evidence_fields import (
    EVIDENCE_FIELDS,
    FILE_FIELDS,
    EvidenceField,
    modal_fields,
)
from bot.evidence_files import Upload, upload_to_stripe
from bot.stripe_api import call
from bot.stripe_shapes import as_dict, as_int, as_str
from storage import disputes as store
from storage.dispute_status import is_answerable
from storage.models import Dispute


def refuse_unless_answerable(
    row: Dispute | None, dispute_id: str, *, key_live: bool | None = None
) -> Dispute:
    """The row, if it still takes evidence and answers, and the bot's key (of
    mode `key_live`) can act on it; else a refusal."""
    if row is None or not is_answerable(row):
        raise cannot_answer(dispute_id, row)
    if mode_mismatch(row.livemode, key_live=key_live):
        raise OtherMode(row)
    return row


def _address(address: object) -> str | None:
    parts = as_dict(address)
    city_line = " ".join(
        p for p in (as_str(parts.get("state")), as_str(parts.get("postal_code"))) if p
    )
    lines = [
        as_str(parts.get("line1")),
        as_str(parts.get("line2")),
        ", ".join(p for p in (as_str(parts.get("city")), city_line) if p) or None,
        as_str(parts.get("country")),
    ]
    text = "\n".join(line for line in lines if line)
    return text or None


def prefill_from_charge(charge: Mapping[str, Any]) -> dict[str, str]:
    """Evidence we can fill in from the charge and its (expanded) customer."""
    customer = as_dict(charge.get("customer"))
    billing = as_dict(charge.get("billing_details"))
    _, name, email = customer_of(charge)
    values: dict[str, str | None] = {
        "customer_name": name or as_str(as_dict(charge.get("shipping")).get("name")),
        "customer_email_address": email,
        "billing_address": _address(billing.get("address"))
        or _address(customer.get("address")),
        "shipping_address": _address(as_dict(charge.get("shipping")).get("address"))
        or _address(as_dict(customer.get("shipping")).get("address")),
        "product_description": as_str(charge.get("description")),
    }
    facts = []
    created = as_int(charge.get("created"))
    if created:
        day = datetime.fromtimestamp(created, tz=UTC).strftime("%Y-%m-%d")
        facts.append(f"Purchased on {day} (payment {charge.get('id')}).")
    receipt = as_str(charge.get("receipt_url"))
    if receipt:
        facts.append(f"Receipt: {receipt}")
    values["uncategorized_text"] = " ".join(facts) or None
    return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class EvidenceDraft:
    """What the evidence modal opens with."""

    row: Dispute
    fields: list[EvidenceField]
    values: dict[str, str]
    files: dict[str, Any] = field(default_factory=dict)
    notice: str | None = None


async def open_evidence(deps: Deps, dispute_id: str) -> EvidenceDraft:
    """The row, the fields for its reason, and values to start from: what Stripe
    has, else what we saved, else what the charge tells us."""
    row = refuse_unless_answerable(
        await load(deps, dispute_id), dispute_id, key_live=deps.settings.stripe_live
    )
    prefill: dict[str, str] = {}
    notice = None
    charge: dict[str, Any] | None = None
    if row.charge_id:
        try:
            charge = await read_charge(deps, row.charge_id, account=row.account)
        except stripe.StripeError as exc:
            # The form is still useful without what the charge would fill in.
            notice = blocks.prefill_failed(exc)
    if charge is not None:
        prefill = prefill_from_charge(charge)
        row = await record_customer(deps, row, charge)
    fields = modal_fields(row.reason)
    values: dict[str, str] = {}
    for f in fields:
        if f.is_file:
            continue
        if f.name in row.stripe_evidence:
            values[f.name] = str(row.stripe_evidence[f.name])
        elif f.name in row.staged_evidence:
            values[f.name] = str(row.staged_evidence[f.name])
        elif f.name in prefill:
            values[f.name] = prefill[f.name]
    return EvidenceDraft(row, fields, values, dict(row.evidence_files), notice)


def evidence_key(dispute_id: str, revision: int, evidence: Mapping[str, str]) -> str:
    """Same content on the same revision: the same key, so a retry is a replay."""
    digest = hashlib.sha256(
        json.dumps(evidence, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return f"dispute-evidence:{dispute_id}:r{revision}:{digest[:32]}"


@dataclass(frozen=True)
class Saved:
    row: Dispute
    fields: list[str]  # what changed on Stripe; empty: nothing to save


async def save_evidence(
    deps: Deps,
    *,
    dispute_id: str,
    user_id: str,
    texts: Mapping[str, str],
    uploads: Sequence[Upload],
) -> Saved:
    """Stage evidence on Stripe (`submit=false`), then in the row."""
    row = refuse_unless_answerable(
        await load(deps, dispute_id), dispute_id, key_live=deps.settings.stripe_live
    )
    evidence: dict[str, str] = {}
    for name, value in texts.items():
        # An emptied field is sent as "" so Stripe forgets it too.
        text_field = name in EVIDENCE_FIELDS and name not in FILE_FIELDS
        if text_field and value != (row.stripe_evidence.get(name) or ""):
            evidence[name] = value
    files: dict[str, Any] = {}
    for upload in uploads:
        file_id = await upload_to_stripe(
            deps, dispute_id=row.id, upload=upload, account=row.account
        )
        evidence[upload.field] = file_id
        files[upload.field] = {
            "id": file_id,
            "name": upload.name,
            "size": len(upload.data),
        }
    if not evidence:
        return Saved(row, [])
    params: Any = {"evidence": evidence, "submit": False}
    updated = await call(
        deps.metrics,
        "disputes.update",
        deps.stripe.v1.disputes.update_async(
            row.id,
            params,
            on_account(
                row.account,
                {
                    "idempotency_key": evidence_key(
                        row.id, row.evidence_revision, evidence
                    )
                },
            ),
        ),
    )
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        await apply_object(session, plain(updated), version=snapshot(now), now=now)
        await store.save_evidence(
            session, dispute_id=row.id, staged=evidence, files=files, now=now
        )
        fresh = await store.get(session, dispute_id=row.id)
        assert fresh is not None
        saved = [EVIDENCE_FIELDS[n] for n in sorted(evidence)]
        await record_and_show(
            session,
            deps.settings,
            fresh,
            actor=user_id,
            action="dispute.evidence_saved",
            details={"fields": sorted(evidence)},
            note_key=f"dispute-saved:{row.id}:r{fresh.evidence_revision}",
            note_text=blocks.saved_note(user_id, saved, fresh),
            now=now,
        )
    deps.wake.outbox.set()
    return Saved(fresh, sorted(evidence))
