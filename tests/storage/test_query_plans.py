"""The worker's per-round claims cost the same at any backlog: each is served
by an index in the order it wants, with no sort over the waiting rows; and
what a round reads for its events is found through indexes, not by a scan.

The statements are the ones the code runs (captured as they go to the
driver, with their parameters), explained on a filled, analyzed table.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import dispute_reminders, fraud_warnings, outbox, refunds
from storage import events as event_store
from storage.dispute_status import ANSWERABLE
from storage.engine import make_sessionmaker
from storage.events import NewEvent
from storage.models import (
    NAG_CONDITION,
    Dispute,
    FraudWarning,
    OutboxMessage,
    RefundRequest,
)

NOW = 1_800_000_000.0
BACKLOG = 5_000
RETRYING = 500  # failed events waiting for a later attempt


async def analyze(engine: AsyncEngine) -> None:
    """Fresh planner statistics, so the plans are those of a filled table."""
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()


async def insert_analyzed(
    engine: AsyncEngine, *tables: tuple[type[Any], list[dict[str, Any]]]
) -> None:
    """Insert each table's rows in one transaction, then analyze."""
    async with make_sessionmaker(engine)() as session, session.begin():
        for model, rows in tables:
            await session.execute(insert(model), rows)
    await analyze(engine)


async def fill_events(engine: AsyncEngine) -> None:
    """A backlog of pending events (created out of order, as Stripe sends
    them), some failed ones waiting for their retry, and processed ones."""
    sessions = make_sessionmaker(engine)
    new = [
        NewEvent(
            id=f"evt_{i:06d}",
            type="charge.succeeded",
            livemode=False,
            created=1_700_000_000 + (i * 7919) % BACKLOG,
            object_id=f"ch_{i}",
            payload=json.dumps({"id": f"evt_{i:06d}", "pad": "x" * 1500}),
        )
        for i in range(BACKLOG + RETRYING + BACKLOG)
    ]
    async with sessions() as session, session.begin():
        await event_store.store_events(session, events=new, now=NOW - 10)
        await session.execute(
            text(
                "UPDATE stripe_event SET attempts = 1, next_attempt_at = :later "
                "WHERE id >= :first AND id < :last"
            ),
            {"later": NOW + 300, "first": f"evt_{BACKLOG:06d}", "last": "evt_~"},
        )
        await session.execute(
            text(
                "UPDATE stripe_event SET status = 'processed', processed_at = :now "
                "WHERE id >= :first"
            ),
            {"now": NOW, "first": f"evt_{BACKLOG + RETRYING:06d}"},
        )
    await analyze(engine)


Statement = tuple[str, Any]


async def statements_of(
    engine: AsyncEngine, run: Callable[[], Awaitable[Any]]
) -> list[Statement]:
    """The SELECTs that `run` sends to the database, with their parameters."""
    sent: list[Statement] = []

    def _capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", _capture)
    try:
        await run()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", _capture)
    assert sent, "the call sent no SELECT"
    return sent


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


async def explain(engine: AsyncEngine, statement: Statement) -> list[Any]:
    sql, params = statement
    prefix = (
        "EXPLAIN QUERY PLAN "
        if engine.dialect.name == "sqlite"
        else "EXPLAIN (FORMAT JSON) "
    )
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(prefix + sql, params)
        return list(result.all())


@dataclass(frozen=True)
class Plan:
    """How the database would run a statement: SQLite's plan lines, or
    PostgreSQL's plan nodes; `shown` for a failing assertion."""

    lines: list[str] | None
    nodes: list[dict[str, Any]]
    shown: str

    def scans(self, table: str) -> list[dict[str, Any]]:
        """PostgreSQL's nodes that read `table`."""
        return [n for n in self.nodes if n.get("Relation Name") == table]


async def plan_of(engine: AsyncEngine, statement: Statement) -> Plan:
    rows = await explain(engine, statement)
    if engine.dialect.name == "sqlite":
        lines = [str(r[3]) for r in rows]
        return Plan(lines, [], "\n".join(lines) + "\n" + statement[0])
    raw = rows[0][0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return Plan(None, list(nodes(plan)), json.dumps(plan, indent=1))


async def assert_index_ordered(
    engine: AsyncEngine, statement: Statement, *, table: str, index: str
) -> None:
    """The statement reads `table` through `index` and sorts nothing."""
    plan = await plan_of(engine, statement)
    shown = plan.shown
    if plan.lines is not None:
        details = plan.lines
        assert any(
            f"{table} USING INDEX {index}" in d
            or f"{table} USING COVERING INDEX {index}" in d
            for d in details
        ), f"{table} is not read through {index}:\n{shown}"
        assert not any(d.startswith(f"SCAN {table}") for d in details), (
            f"the statement reads all of {table}:\n{shown}"
        )
        assert not any("TEMP B-TREE" in d for d in details), (
            f"the statement sorts:\n{shown}"
        )
        return
    scans = plan.scans(table)
    assert scans, f"{table} is not read:\n{shown}"
    for scan in scans:
        assert scan["Node Type"] in ("Index Scan", "Index Only Scan"), (
            f"{table} is read by a {scan['Node Type']}, not an index scan:\n{shown}"
        )
        assert scan["Index Name"] == index, f"{table} is read through:\n{shown}"
    sorts = [n for n in plan.nodes if "Sort" in n["Node Type"]]
    assert not sorts, f"the statement sorts the rows it reads:\n{shown}"


async def test_event_claim_reads_only_due_events_in_index_order(
    engine: AsyncEngine,
) -> None:
    await fill_events(engine)
    sessions = make_sessionmaker(engine)
    claimed: list[event_store.DueEvent] = []

    async def claim() -> None:
        async with sessions() as session, session.begin():
            claimed.extend(
                await event_store.lock_due_events(session, now=NOW, limit=50)
            )

    sent = await statements_of(engine, claim)
    for statement in sent:
        await assert_index_ordered(
            engine, statement, table="stripe_event", index="ix_stripe_event_claim"
        )
    # Oldest first: the first events stored, not the retries that are not due.
    assert [e.id for e in claimed] == [f"evt_{i:06d}" for i in range(50)]


CHANNELS = [f"C{i:03d}" for i in range(8)]


async def fill_outbox(engine: AsyncEngine) -> None:
    """Messages waiting in several channels, and many more sent before."""
    sessions = make_sessionmaker(engine)
    queued = [
        outbox.Queued(
            key=f"alert:evt_{i:06d}",
            channel=CHANNELS[i % len(CHANNELS)],
            text=f"alert {i} " + "x" * 500,
        )
        for i in range(2 * BACKLOG)
    ]
    async with sessions() as session, session.begin():
        await outbox.enqueue_many(session, messages=queued, now=NOW - 10)
        await session.execute(
            text("UPDATE outbox SET status = 'sent', sent_at = :now WHERE id <= :n"),
            {"now": NOW, "n": BACKLOG},
        )
    await analyze(engine)


async def test_outbox_round_reads_channels_through_the_index(
    engine: AsyncEngine,
) -> None:
    await fill_outbox(engine)
    sessions = make_sessionmaker(engine)
    found: list[str] = []
    claimed: list[OutboxMessage] = []

    async def channels() -> None:
        async with sessions() as session, session.begin():
            found.extend(await outbox.next_channels(session, now=NOW, exclude=["C007"]))

    async def claim() -> None:
        async with sessions() as session, session.begin():
            claimed.extend(
                await outbox.claim_for_channel(
                    session,
                    channel="C003",
                    claimant="test",
                    now=NOW,
                    lease=60,
                    limit=40,
                )
            )

    for run in (channels, claim):
        for statement in await statements_of(engine, run):
            await assert_index_ordered(
                engine, statement, table="outbox", index="ix_outbox_due"
            )
    # The longest-waiting first: C000's first waiting message is the oldest.
    assert found == CHANNELS[:7]
    assert [m.key for m in claimed] == [
        f"alert:evt_{i:06d}" for i in range(BACKLOG, 2 * BACKLOG) if i % 8 == 3
    ][:40]


HOUR = 3600
NAG_HOURS = [72, 24]


async def fill_disputes(engine: AsyncEngine) -> None:
    """Disputes: most closed or under review, some open with deadlines in the
    coming week, a few answered already."""
    statuses = ["won", "lost", "under_review", "warning_closed", "needs_response"]
    rows: list[dict[str, Any]] = [
        {
            "id": f"dp_{i:06d}",
            "amount": 1000 + i,
            "currency": "usd",
            "reason": "fraudulent",
            "status": statuses[i % len(statuses)],
            "due_by": int(NOW + ((i * 7919) % (7 * 24)) * HOUR - 3 * HOUR),
            "livemode": False,
            "created": int(NOW) - 86400,
            "version_created": int(NOW) - 86400,
            "version_event": f"evt_{i:06d}",
            "submission_count": 1 if i % 50 == 4 else 0,
            "has_evidence": False,
            "stripe_evidence": {},
            "staged_evidence": {},
            "evidence_files": {},
            "evidence_revision": 0,
            "customer_checked": True,
            "updated_at": NOW,
        }
        for i in range(2 * BACKLOG)
    ]
    await insert_analyzed(engine, (Dispute, rows))


async def test_reminder_scan_reads_open_disputes_in_deadline_order(
    engine: AsyncEngine,
) -> None:
    # The index's condition is the bot's definition of "still to answer".
    assert all(f"'{status}'" in NAG_CONDITION for status in ANSWERABLE)
    await fill_disputes(engine)
    found: list[str] = []

    async def scan() -> None:
        async with make_sessionmaker(engine)() as session, session.begin():
            candidates = await dispute_reminders.reminder_candidates(
                session, now=NOW, hours=NAG_HOURS, limit=100
            )
            found.extend(c.id for c in candidates)

    for statement in await statements_of(engine, scan):
        await assert_index_ordered(
            engine, statement, table="dispute", index="ix_dispute_nag"
        )
    # The nearest deadlines first, past due ones before them; none answered.
    async with engine.connect() as conn:
        expected = (
            await conn.execute(
                text(
                    "SELECT id FROM dispute WHERE status = 'needs_response' "
                    "AND submission_count = 0 AND due_by <= :until "
                    "ORDER BY due_by, id LIMIT 100"
                ),
                {"until": NOW + 72 * HOUR},
            )
        ).scalars()
        assert found == list(expected)


async def assert_no_full_scan(
    engine: AsyncEngine, statement: Statement, *, table: str
) -> None:
    """The statement finds its rows of `table` through an index (one, or
    several OR'ed together), never by reading the whole table."""
    plan = await plan_of(engine, statement)
    shown = plan.shown
    if plan.lines is not None:
        details = plan.lines
        assert any(d.startswith(f"SEARCH {table} ") for d in details), (
            f"{table} is not searched through an index:\n{shown}"
        )
        assert not any(d.startswith(f"SCAN {table}") for d in details), (
            f"the statement reads all of {table}:\n{shown}"
        )
        return
    scans = plan.scans(table)
    assert scans, f"{table} is not read:\n{shown}"
    assert all(n["Node Type"] != "Seq Scan" for n in scans), (
        f"the statement reads all of {table}:\n{shown}"
    )


async def test_a_rounds_refund_and_fraud_warning_reads_use_their_indexes(
    engine: AsyncEngine,
) -> None:
    # Many requests and warnings stored; a round asks about 30 of each.
    requests = [
        {
            "status": "succeeded",
            "payment_id": f"pi_{i}",
            "charge_id": f"ch_{i}",
            "amount": 500,
            "currency": "usd",
            "payment_amount": 2000,
            "livemode": False,
            "requested_by": "U_AGENT",
            "requested_at": NOW,
            "expires_at": NOW + 3600,
            "idempotency_key": f"stripe-ops-refund-{i}",
            "refund_id": f"re_{i}",
            "stripe_attempts": 1,
        }
        for i in range(BACKLOG)
    ]
    warnings = [
        {
            "id": f"issfr_{i}",
            "charge_id": f"ch_{i}",
            "livemode": False,
            "actionable": True,
            "state": "closed" if i % 2 else "checking",
            "alert_key": f"alert:evt_w{i}",
            "event_id": f"evt_w{i}",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for i in range(BACKLOG)
    ]
    await insert_analyzed(engine, (RefundRequest, requests), (FraudWarning, warnings))
    asked = range(100, 3_100, 100)
    found: list[Any] = []

    async def round_reads() -> None:
        async with make_sessionmaker(engine)() as session, session.begin():
            found.append(
                await refunds.made_here(
                    session,
                    refund_ids=[f"re_{i}" for i in asked],
                    request_keys=[f"stripe-ops-refund-{i + 1}" for i in asked],
                )
            )
            # Then, for a refund that is ours, its request, locked.
            found.append(
                await refunds.find_for_refund(
                    session, refund_id="re_100", request_key="stripe-ops-refund-100"
                )
            )
            found.append(
                await fraud_warnings.open_on_charges(
                    session, charge_ids=[f"ch_{i}" for i in asked]
                )
            )

    sent = await statements_of(engine, round_reads)
    assert [s for s in sent if "refund_request" in s[0]], "no read of requests"
    assert [s for s in sent if "fraud_warning" in s[0]], "no read of warnings"
    for statement in sent:
        table = (
            "refund_request" if "refund_request" in statement[0] else "fraud_warning"
        )
        await assert_no_full_scan(engine, statement, table=table)
    made_here, ours, open_warnings = found
    assert ours is not None
    assert ours.refund_id == "re_100"
    # 60 requests matched (30 by refund ID, 30 by key): each one's ID and key.
    assert made_here == {f"re_{i}" for i in asked} | {f"re_{i + 1}" for i in asked} | {
        f"stripe-ops-refund-{i}" for i in asked
    } | {f"stripe-ops-refund-{i + 1}" for i in asked}
    assert {w.charge_id for w in open_warnings} == {f"ch_{i}" for i in asked}
