"""Disputes: state from Stripe objects (the newest wins), evidence, submission,
acceptance, reconcile and deadline reminders.

Handlers call these; Block Kit comes from `bot.blocks.disputes`. Stripe calls
happen outside database transactions, and every state change that Slack should
see is queued in the outbox in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from bot import stripe_shapes as shapes
from bot.blocks import disputes as blocks
from bot.config import Settings
from bot.deps import Deps
from bot.dispute_refusals import NotAnswerable, NotClaimed, cannot_answer
from bot.evidence_fields import (
    EVIDENCE_FIELDS,
    FILE_FIELDS,
    REASON_FIELDS,
    EvidenceField,
    EvidenceKind,
    checklist,
    missing,
    modal_fields,
    recommended_fields,
)
from bot.evidence_files import Upload, upload_to_stripe
from bot.stripe_api import call
from storage import audit, outbox, sync_state
from storage import dispute_reminders as reminders_store
from storage import disputes as store
from storage.dispute_reminders import PAST_DUE, threshold_label
from storage.dispute_status import ANSWERABLE, CLOSED, UNDER_REVIEW, is_answerable
from storage.disputes import Version
from storage.models import Dispute

log = logging.getLogger(__name__)

T = TypeVar("T")

# Importable from here as before; the catalogue is bot.evidence_fields.
__all__ = [
    "ANSWERABLE",
    "CLOSED",
    "EVIDENCE_FIELDS",
    "FILE_FIELDS",
    "REASON_FIELDS",
    "UNDER_REVIEW",
    "EvidenceField",
    "EvidenceKind",
    "NotAnswerable",
    "checklist",
    "missing",
    "modal_fields",
    "recommended_fields",
]

CREATED_EVENT = "charge.dispute.created"
EVENT_TYPES = (
    CREATED_EVENT,
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)

# Disputes are answered within weeks and decided within about 75 days after
# that; older ones cannot change any more, so reconcile does not page past this.
RECONCILE_LOOKBACK_DAYS = 120
RECONCILE_PAGE_SIZE = 100
# The sync_state row a finished reconcile writes.
SYNC_NAME = "disputes"
# A claimed submission or acceptance this old with no answer from Stripe was
# cut short (crash, Stripe unreachable); recovery resends it with its key.
UNFINISHED_AFTER_SECONDS = 120.0

# -- Stripe objects -> rows --------------------------------------------------------


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _id(value: object) -> str | None:
    """The ID of an expandable field, whether it holds an ID or an object."""
    if isinstance(value, dict):
        return _str(value.get("id"))
    return _str(value)


def customer_of(charge: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(customer ID, name, email) from a charge of any API version, its customer
    possibly expanded."""
    payer = shapes.charge_payer(charge)
    return _id(charge.get("customer")), payer.name, payer.email


def dispute_id(obj: Mapping[str, Any]) -> str | None:
    """The dispute's ID; None for disputes from before dispute IDs (2014)."""
    return _str(obj.get("id"))


def object_values(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Dispute columns from a Stripe dispute object (charge maybe expanded)."""
    charge = obj.get("charge")
    charge_obj = _dict(charge)
    # Endpoints pinned before 2014-12-08 get the deadline as `evidence_due_by`
    # and evidence as free text: `stripe_shapes` reads both shapes.
    state = shapes.dispute_evidence_state(obj)
    evidence = {
        key: _id(value)
        for key, value in shapes.dispute_evidence(obj).items()
        if key in EVIDENCE_FIELDS and _id(value)
    }
    customer_id, name, email = (
        customer_of(charge_obj) if charge_obj else (None, None, None)
    )
    checked = {"customer_checked": True} if charge_obj else {}
    return {
        **checked,
        "id": str(obj["id"]),
        "charge_id": _id(charge),
        "payment_intent_id": _id(obj.get("payment_intent"))
        or _id(charge_obj.get("payment_intent")),
        "amount": _int(obj.get("amount")) or 0,
        "currency": (_str(obj.get("currency")) or "").lower(),
        "reason": _str(obj.get("reason")) or "general",
        "status": _str(obj.get("status")) or "needs_response",
        # Stripe sends 0 (or nothing) when the bank allows no response.
        "due_by": shapes.dispute_due_by(obj),
        "livemode": obj.get("livemode") is True,
        "created": _int(obj.get("created")) or 0,
        "submission_count": state.submission_count,
        "has_evidence": state.has_evidence,
        "stripe_evidence": evidence,
        "customer_id": customer_id,
        "customer_name": name,
        "customer_email": email,
    }


def transient_row(obj: Mapping[str, Any], *, now: float) -> Dispute:
    """A row built from an object alone, for rendering without the database."""
    return Dispute(**object_values(obj), updated_at=now)


def snapshot(now: float) -> Version:
    return Version(int(now))


@dataclass(frozen=True)
class Applied:
    row: Dispute
    created: bool
    changed: bool


async def apply_object(
    session: AsyncSession, obj: Mapping[str, Any], *, version: Version, now: float
) -> Applied:
    """Take the object unless the row already holds a newer one."""
    values = object_values(obj)
    created, changed = await store.upsert(
        session, values=values, version=version, now=now
    )
    row = await store.get(session, dispute_id=values["id"])
    assert row is not None
    return Applied(row, created, changed)


# -- the alert and its thread ------------------------------------------------------


def render_card(
    row: Dispute, *, now: float, event_id: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    return blocks.dispute_card(
        row,
        checklist=checklist(row.reason, row.stripe_evidence),
        now=now,
        event_id=event_id,
    )


def _channel(settings: Settings, row: Dispute) -> str:
    return row.alert_channel or settings.channel_for("disputes")


async def post_card(
    session: AsyncSession,
    settings: Settings,
    row: Dispute,
    *,
    key: str,
    now: float,
    event_id: str | None = None,
) -> Dispute | None:
    """Queue the dispute's card under `key` (as the alert of `event_id`, if
    any), unless it has a card already; None then.

    The card is claimed on the row first (a conditional UPDATE), so an event
    and a reconcile that find the same new dispute, here or on another
    instance, post one card between them.
    """
    channel = _channel(settings, row)
    if not await store.set_alert(
        session, dispute_id=row.id, key=key, channel=channel, event_id=event_id
    ):
        return None
    fresh = await store.get(session, dispute_id=row.id)
    assert fresh is not None
    text, card = render_card(fresh, now=now, event_id=event_id)
    await outbox.enqueue(
        session, key=key, channel=channel, text=text, blocks=card, now=now
    )
    return fresh


async def update_card(
    session: AsyncSession, row: Dispute, *, now: float, skip_key: str | None = None
) -> None:
    """Queue an edit of the dispute's alert so it shows the row as it is now."""
    if row.alert_key is None or row.alert_key == skip_key:
        return
    text, card = render_card(row, now=now, event_id=row.alert_event)
    await outbox.enqueue_update(
        session,
        # Each edit is a new version; edits go out in the order queued.
        key=f"{row.alert_key}:edit:{uuid.uuid4().hex}",
        target_key=row.alert_key,
        text=text,
        blocks=card,
        now=now,
    )


async def note(
    session: AsyncSession,
    settings: Settings,
    row: Dispute,
    *,
    key: str,
    text: str,
    now: float,
    broadcast: bool = False,
    layout: list[dict[str, Any]] | None = None,
) -> None:
    """A reply in the dispute's alert thread (in the channel if it has none);
    `layout` gives its blocks, else the text is the one block."""
    await outbox.enqueue(
        session,
        key=key,
        channel=_channel(settings, row),
        text=text,
        blocks=layout if layout is not None else blocks.note_blocks(text),
        now=now,
        thread_key=row.alert_key,
        reply_broadcast=broadcast and row.alert_key is not None,
    )


async def on_event(
    session: AsyncSession,
    settings: Settings,
    event: Mapping[str, Any],
    *,
    alert_key: str,
    now: float,
) -> Applied:
    """Apply a dispute event; post the card as this event's alert when the bot
    has no card for the dispute yet, else edit the card.

    A `created` that comes after reconcile (or an earlier event) posted the
    card adds no second card.
    """
    obj = _dict(_dict(event.get("data")).get("object"))
    event_id = str(event["id"])
    version = Version(int(event.get("created") or 0), event_id)
    applied = await apply_object(session, obj, version=version, now=now)
    row = applied.row
    if row.alert_key is None:
        # Built from the row, so a late `created` still shows the newest state.
        posted = await post_card(
            session, settings, row, key=alert_key, now=now, event_id=event_id
        )
        if posted is not None:
            return Applied(posted, applied.created, applied.changed)
        # Another transaction's card won the claim: edit that one.
        fresh = await store.get(session, dispute_id=row.id)
        assert fresh is not None
        row = fresh
    if applied.changed:
        await update_card(session, row, now=now, skip_key=alert_key)
    return Applied(row, applied.created, applied.changed)


async def on_snapshot(
    session: AsyncSession,
    settings: Settings,
    obj: Mapping[str, Any],
    *,
    version: Version,
    now: float,
) -> Applied:
    """Apply an object read from the API; a dispute never seen gets its alert."""
    applied = await apply_object(session, obj, version=version, now=now)
    row = applied.row
    if applied.created and row.status not in CLOSED:
        posted = await post_card(
            session, settings, row, key=f"dispute:{row.id}", now=now
        )
        row = posted or row
    elif applied.changed:
        await update_card(session, row, now=now)
    return Applied(row, applied.created, applied.changed)


# -- reading -----------------------------------------------------------------------


async def load(deps: Deps, dispute_id: str) -> Dispute | None:
    async with deps.sessions() as session:
        return await store.get(session, dispute_id=dispute_id)


can_answer = is_answerable


def _plain(obj: Any) -> dict[str, Any]:
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    return dict(obj)


async def _with_customer(
    expand: str, request: Callable[[list[str]], Awaitable[T]]
) -> T:
    """Ask with the charge's customer expanded (who paid, for the card); a key
    without Customers: Read still gets the charge."""
    try:
        return await request([f"{expand}.customer"])
    except stripe.PermissionError:
        return await request([expand])


async def lookup(deps: Deps, object_id: str) -> list[Dispute]:
    """Disputes for a dp_, ch_ or pi_ ID, read from Stripe and stored."""
    client, metrics = deps.stripe.v1.disputes, deps.metrics
    if object_id.startswith(("dp_", "du_")):

        async def retrieve(expand: list[str]) -> list[Any]:
            params: Any = {"expand": expand}
            found = client.retrieve_async(object_id, params)
            return [await call(metrics, "disputes.retrieve", found)]

        found = await _with_customer("charge", retrieve)
    else:
        key = "charge" if object_id.startswith("ch_") else "payment_intent"

        async def listing(expand: list[str]) -> list[Any]:
            params: Any = {key: object_id, "limit": 10, "expand": expand}
            page = await call(metrics, "disputes.list", client.list_async(params))
            return list(page.data)

        found = await _with_customer("data.charge", listing)
    objects = [_plain(d) for d in found]
    rows: list[Dispute] = []
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        for obj in objects:
            applied = await on_snapshot(
                session, deps.settings, obj, version=snapshot(now), now=now
            )
            rows.append(applied.row)
    deps.wake.outbox.set()
    return rows


async def answerable(deps: Deps, *, limit: int) -> tuple[list[Dispute], int, int]:
    """(soonest-due disputes waiting for an answer, how many, how many in review)."""
    async with deps.sessions() as session:
        rows, total = await store.answerable(session, limit=limit)
        in_review = await store.count_in(session, statuses=UNDER_REVIEW)
    return rows, total, in_review


# -- reconcile ---------------------------------------------------------------------


async def reconcile(deps: Deps, *, page_size: int = RECONCILE_PAGE_SIZE) -> int:
    """Repair missed events from `GET /v1/disputes`; returns disputes seen.

    The listing is a snapshot taken now: it beats events created before it,
    and an event created after it still wins.
    """
    version = snapshot(deps.clock.now())
    since = version.created - RECONCILE_LOOKBACK_DAYS * 86400
    params: dict[str, Any] = {"limit": page_size, "created": {"gte": since}}

    async def listing(expand: list[str]) -> Any:
        request: Any = {**params, "expand": expand}
        return await call(
            deps.metrics, "disputes.list", deps.stripe.v1.disputes.list_async(request)
        )

    seen = 0
    while True:
        page = await _with_customer("data.charge", listing)
        objects = [_plain(d) for d in page.data]
        # One short transaction per page: no database lock across HTTP calls.
        async with deps.sessions() as session, session.begin():
            now = deps.clock.now()
            for obj in objects:
                await on_snapshot(session, deps.settings, obj, version=version, now=now)
        seen += len(objects)
        deps.wake.outbox.set()
        if not page.has_more or not objects:
            break
        params["starting_after"] = objects[-1]["id"]
    # Only a read that reached the last page counts: until one has, "no open
    # dispute" may just mean "not read yet".
    async with deps.sessions() as session, session.begin():
        await sync_state.mark_finished(session, name=SYNC_NAME, now=deps.clock.now())
    return seen


async def first_sync_done(deps: Deps) -> bool:
    """Whether any instance has read every recent dispute from Stripe yet."""
    async with deps.sessions() as session:
        return await sync_state.finished_at(session, name=SYNC_NAME) is not None


# -- evidence ----------------------------------------------------------------------


def refuse_unless_answerable(row: Dispute | None, dispute_id: str) -> Dispute:
    """The row, if it still takes evidence and answers; else a refusal."""
    if row is None or not can_answer(row):
        raise cannot_answer(dispute_id, row)
    return row


def _address(address: object) -> str | None:
    parts = _dict(address)
    city_line = " ".join(
        p for p in (_str(parts.get("state")), _str(parts.get("postal_code"))) if p
    )
    lines = [
        _str(parts.get("line1")),
        _str(parts.get("line2")),
        ", ".join(p for p in (_str(parts.get("city")), city_line) if p) or None,
        _str(parts.get("country")),
    ]
    text = "\n".join(line for line in lines if line)
    return text or None


def prefill_from_charge(charge: Mapping[str, Any]) -> dict[str, str]:
    """Evidence we can fill in from the charge and its (expanded) customer."""
    customer = _dict(charge.get("customer"))
    billing = _dict(charge.get("billing_details"))
    _, name, email = customer_of(charge)
    values: dict[str, str | None] = {
        "customer_name": name or _str(_dict(charge.get("shipping")).get("name")),
        "customer_email_address": email,
        "billing_address": _address(billing.get("address"))
        or _address(customer.get("address")),
        "shipping_address": _address(_dict(charge.get("shipping")).get("address"))
        or _address(_dict(customer.get("shipping")).get("address")),
        "product_description": _str(charge.get("description")),
    }
    facts = []
    created = _int(charge.get("created"))
    if created:
        day = datetime.fromtimestamp(created, tz=UTC).strftime("%Y-%m-%d")
        facts.append(f"Purchased on {day} (payment {charge.get('id')}).")
    receipt = _str(charge.get("receipt_url"))
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


async def _charge_for_prefill(deps: Deps, charge_id: str) -> dict[str, Any]:
    charges = deps.stripe.v1.charges
    try:
        charge = await call(
            deps.metrics,
            "charges.retrieve",
            charges.retrieve_async(charge_id, {"expand": ["customer"]}),
        )
    except stripe.PermissionError:
        # A key without Customers: Read still gets the charge's own details.
        charge = await call(
            deps.metrics, "charges.retrieve", charges.retrieve_async(charge_id)
        )
    return _plain(charge)


async def open_evidence(deps: Deps, dispute_id: str) -> EvidenceDraft:
    """The row, the fields for its reason, and values to start from: what Stripe
    has, else what we saved, else what the charge tells us."""
    row = refuse_unless_answerable(await load(deps, dispute_id), dispute_id)
    prefill: dict[str, str] = {}
    notice = None
    charge: dict[str, Any] | None = None
    if row.charge_id:
        try:
            charge = await _charge_for_prefill(deps, row.charge_id)
        except stripe.StripeError as exc:
            # The form is still useful without what the charge would fill in.
            notice = blocks.prefill_failed(exc)
    if charge is not None:
        prefill = prefill_from_charge(charge)
        row = await _record_customer(deps, row, charge)
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


async def _record_customer(
    deps: Deps, row: Dispute, charge: Mapping[str, Any]
) -> Dispute:
    """Store who paid, from the charge; the card shows them from now on."""
    customer_id, name, email = customer_of(charge)
    async with deps.sessions() as session, session.begin():
        changed = await store.set_customer(
            session, dispute_id=row.id, customer_id=customer_id, name=name, email=email
        )
        fresh = await store.get(session, dispute_id=row.id)
        assert fresh is not None
        if changed:
            await update_card(session, fresh, now=deps.clock.now())
    if changed:
        deps.wake.outbox.set()
    return fresh


CUSTOMER_BATCH = 20


async def fill_in_customers(deps: Deps, *, limit: int = CUSTOMER_BATCH) -> int:
    """Read the charge of disputes whose events named it only by ID, so their
    cards show who paid; returns how many were read."""
    async with deps.sessions() as session:
        rows = await store.customers_to_check(session, limit=limit)
    for row in rows:
        assert row.charge_id is not None
        try:
            charge = await _charge_for_prefill(deps, row.charge_id)
        except stripe.InvalidRequestError:
            # Stripe will not give it (e.g. deleted): no point asking again.
            charge = {}
        except stripe.StripeError as exc:
            log.warning(
                "reading charge %s of %s failed: %s",
                row.charge_id,
                row.id,
                type(exc).__name__,
            )
            continue
        await _record_customer(deps, row, charge)
    return len(rows)


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
    row = refuse_unless_answerable(await load(deps, dispute_id), dispute_id)
    evidence: dict[str, str] = {}
    for name, value in texts.items():
        # An emptied field is sent as "" so Stripe forgets it too.
        text_field = name in EVIDENCE_FIELDS and name not in FILE_FIELDS
        if text_field and value != (row.stripe_evidence.get(name) or ""):
            evidence[name] = value
    files: dict[str, Any] = {}
    for upload in uploads:
        file_id = await upload_to_stripe(deps, dispute_id=row.id, upload=upload)
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
            {"idempotency_key": evidence_key(row.id, row.evidence_revision, evidence)},
        ),
    )
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        await apply_object(session, _plain(updated), version=snapshot(now), now=now)
        await store.save_evidence(
            session, dispute_id=row.id, staged=evidence, files=files, now=now
        )
        await audit.record(
            session,
            actor=user_id,
            action="dispute.evidence_saved",
            subject=row.id,
            now=now,
            details={"fields": sorted(evidence)},
        )
        fresh = await store.get(session, dispute_id=row.id)
        assert fresh is not None
        await update_card(session, fresh, now=now)
        await note(
            session,
            deps.settings,
            fresh,
            key=f"dispute-saved:{row.id}:r{fresh.evidence_revision}",
            text=blocks.saved_note(
                user_id, [EVIDENCE_FIELDS[n] for n in sorted(evidence)], fresh
            ),
            now=now,
        )
    deps.wake.outbox.set()
    return Saved(fresh, sorted(evidence))


# -- submission and acceptance ----------------------------------------------------


def stripe_may_have_acted(exc: stripe.StripeError) -> bool:
    """No answer, or a server error: the request may have gone through."""
    return isinstance(exc, stripe.APIConnectionError | stripe.APIError)


def submission_key(row: Dispute) -> str:
    # Evidence cannot change while a submission is claimed, so a retry of the
    # claim resends the same key; after a refusal a new revision gets a new one.
    return f"dispute-submit:{row.id}:r{row.evidence_revision}"


def acceptance_key(row: Dispute) -> str:
    return f"dispute-close:{row.id}"


async def claim_submission(deps: Deps, *, dispute_id: str, user_id: str) -> bool:
    async with deps.sessions() as session, session.begin():
        return await store.claim_submission(
            session, dispute_id=dispute_id, user_id=user_id, now=deps.clock.now()
        )


async def claim_acceptance(deps: Deps, *, dispute_id: str, user_id: str) -> bool:
    async with deps.sessions() as session, session.begin():
        return await store.claim_acceptance(
            session, dispute_id=dispute_id, user_id=user_id, now=deps.clock.now()
        )


async def _send_claimed(
    deps: Deps,
    row: Dispute,
    user_id: str,
    *,
    operation: str,
    request: Awaitable[Any],
    release: Callable[..., Awaitable[Any]],
    action: str,
    details: Callable[[Dispute], dict[str, Any]],
    note_key: str,
    note_text: Callable[[Dispute], str],
) -> Dispute:
    """Send a claimed, once-only dispute call (submit or accept) and record it.

    If Stripe refused it outright, the claim is released so it can be tried
    again; if Stripe may have acted, the claim stays and the same idempotency
    key is resent later (finish_unfinished).
    """
    try:
        updated = await call(deps.metrics, operation, request)
    except stripe.StripeError as exc:
        if not stripe_may_have_acted(exc):
            async with deps.sessions() as session, session.begin():
                await release(
                    session, dispute_id=row.id, user_id=user_id, now=deps.clock.now()
                )
        raise
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        await apply_object(session, _plain(updated), version=snapshot(now), now=now)
        fresh = await store.get(session, dispute_id=row.id)
        assert fresh is not None
        await audit.record(
            session,
            actor=user_id,
            action=action,
            subject=row.id,
            now=now,
            amount=row.amount,
            currency=row.currency,
            details=details(fresh),
        )
        await update_card(session, fresh, now=now)
        await note(
            session,
            deps.settings,
            fresh,
            key=note_key,
            text=note_text(fresh),
            now=now,
        )
    deps.wake.outbox.set()
    return fresh


async def submit_claimed(deps: Deps, *, dispute_id: str, user_id: str) -> Dispute:
    """Send the claimed submission (`submit=true`), then record who and when."""
    row = await load(deps, dispute_id)
    if row is None or row.submitted_by != user_id:
        raise NotClaimed(dispute_id, user_id, "submission")
    params: Any = {"submit": True}
    key = submission_key(row)
    return await _send_claimed(
        deps,
        row,
        user_id,
        operation="disputes.submit",
        request=deps.stripe.v1.disputes.update_async(
            row.id, params, {"idempotency_key": key}
        ),
        release=store.release_submission,
        action="dispute.evidence_submitted",
        details=lambda fresh: {
            "fields": sorted(k for k, v in fresh.stripe_evidence.items() if v),
            "missing": [f.name for f in missing(row.reason, fresh.stripe_evidence)],
            "idempotency_key": key,
        },
        note_key=f"dispute-submitted:{row.id}",
        note_text=blocks.submitted_note,
    )


async def accept_claimed(deps: Deps, *, dispute_id: str, user_id: str) -> Dispute:
    """Close the dispute on Stripe (concede it), then record who and when."""
    row = await load(deps, dispute_id)
    if row is None or row.accepted_by != user_id:
        raise NotClaimed(dispute_id, user_id, "acceptance")
    key = acceptance_key(row)
    return await _send_claimed(
        deps,
        row,
        user_id,
        operation="disputes.close",
        request=deps.stripe.v1.disputes.close_async(
            row.id, None, {"idempotency_key": key}
        ),
        release=store.release_acceptance,
        action="dispute.accepted",
        details=lambda _fresh: {"idempotency_key": key},
        note_key=f"dispute-accepted:{row.id}",
        note_text=blocks.accepted_note,
    )


async def finish_unfinished(deps: Deps) -> None:
    """Resend claimed submissions and acceptances that never got Stripe's answer
    (a crash, or Stripe unreachable), with the same idempotency keys."""
    async with deps.sessions() as session:
        rows = await store.unfinished_calls(
            session, before=deps.clock.now() - UNFINISHED_AFTER_SECONDS
        )
    for row in rows:
        try:
            if row.submitted_by is not None:
                await submit_claimed(deps, dispute_id=row.id, user_id=row.submitted_by)
            elif row.accepted_by is not None:
                await accept_claimed(deps, dispute_id=row.id, user_id=row.accepted_by)
        except stripe.StripeError as exc:
            log.warning(
                "finishing the Stripe call for %s failed: %s",
                row.id,
                type(exc).__name__,
            )


@dataclass(frozen=True)
class Taken:
    row: Dispute | None
    taken: bool
    previous: str | None


async def take(deps: Deps, *, dispute_id: str, user_id: str) -> Taken:
    """Someone claims the dispute: reminders mention them from now on."""
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        taken, previous = await store.take(
            session, dispute_id=dispute_id, user_id=user_id, now=now
        )
        row = await store.get(session, dispute_id=dispute_id)
        if not taken or row is None or previous == user_id:
            return Taken(row, taken, previous)
        await audit.record(
            session,
            actor=user_id,
            action="dispute.taken",
            subject=dispute_id,
            now=now,
            details={"previous": previous},
        )
        await update_card(session, row, now=now)
        await note(
            session,
            deps.settings,
            row,
            key=f"dispute-taken:{dispute_id}:{uuid.uuid4().hex}",
            text=blocks.taken_note(user_id, previous),
            now=now,
        )
    deps.wake.outbox.set()
    return Taken(row, taken, previous)


# -- deadline reminders ------------------------------------------------------------

# Reminders queued per transaction. Slack takes about one message a second per
# channel, so a bigger batch would not reach anyone sooner; it would only hold
# the database (SQLite's single write lock, which webhook intake waits for)
# for longer.
REMINDERS_PER_SCAN = 1000


@dataclass(frozen=True)
class Scanned:
    queued: int  # reminders this scan queued
    full: bool  # a whole batch was due, so more may be


async def scan_reminders(deps: Deps, *, limit: int = REMINDERS_PER_SCAN) -> Scanned:
    """Queue the due reminders of up to `limit` disputes, nearest deadline
    first, in one transaction. A constant number of queries whatever the number
    of disputes: candidates, one insert of reminder rows, one of messages."""
    settings = deps.settings
    hours = settings.DISPUTE_NAG_HOURS
    last = threshold_label(min(hours))
    messages: list[outbox.Queued] = []
    async with deps.sessions() as session, session.begin():
        now = deps.clock.now()
        candidates = await reminders_store.reminder_candidates(
            session, now=now, hours=hours, limit=limit
        )
        if not candidates:
            return Scanned(0, full=False)
        inserted = await reminders_store.record_reminders(
            session, now=now, hours=hours, limit=limit
        )
        for c in candidates:
            if (c.id, c.stage) not in inserted:
                continue  # another instance sent it
            text, reminder = blocks.reminder(
                c, missing=missing(c.reason, c.evidence), now=now
            )
            messages.append(
                outbox.Queued(
                    key=f"dispute-reminder:{c.id}:{c.stage}",
                    channel=c.alert_channel or settings.channel_for("disputes"),
                    text=text,
                    blocks=reminder,
                    thread_key=c.alert_key,
                    reply_broadcast=c.alert_key is not None
                    and c.stage in (last, PAST_DUE),
                )
            )
        await outbox.enqueue_many(session, messages=messages, now=now)
    if messages:
        deps.wake.outbox.set()
    return Scanned(len(messages), full=len(candidates) >= limit)


async def send_due_reminders(deps: Deps, *, batch: int = REMINDERS_PER_SCAN) -> int:
    """Scan batch after batch until nothing is due; returns reminders queued."""
    total = 0
    while True:
        scanned = await scan_reminders(deps, limit=batch)
        total += scanned.queued
        if not scanned.full:
            return total
