"""`/stripe alerts` counts the events each rule took in 24 hours: read from
a bounded range of stripe_event through an index, never the whole table,
which keeps every event ever received."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import alert_counts
from storage.engine import make_sessionmaker
from storage.models import StripeEvent
from tests.storage.test_query_plans import (
    assert_no_full_scan,
    insert_analyzed,
    statements_of,
)

NOW = 1_800_000_000.0
DAY = 86_400
HISTORY_DAYS = 400
PER_DAY = 25


def _row(i: int, *, created: float, received: float, rule: str | None) -> Any:
    return {
        "id": f"evt_{i:07d}",
        "type": "charge.succeeded",
        "livemode": False,
        "created": int(created),
        "object_id": f"ch_{i}",
        "payload": "{}",
        "received_at": received,
        "status": "processed",
        "processed_at": received,
        "alert_rule": rule,
    }


async def fill_history(engine: AsyncEngine) -> None:
    """A year and more of processed events, each received a minute after
    Stripe created it, and three that Stripe created long ago but delivered
    in the last day (a retry, a resend from the Dashboard)."""
    rows = [
        _row(
            i,
            created=NOW - i * DAY / PER_DAY,
            received=NOW - i * DAY / PER_DAY + 60,
            rule="r1" if i % 3 == 0 else None,
        )
        for i in range(HISTORY_DAYS * PER_DAY)
    ]
    rows += [
        _row(
            len(rows) + n,
            created=NOW - days * DAY,
            received=NOW - 3600,
            rule="r2",
        )
        for n, days in enumerate((2.5, 10, 29))
    ]
    await insert_analyzed(engine, (StripeEvent, rows))


async def test_alert_counts_read_recent_events_through_an_index(
    engine: AsyncEngine,
) -> None:
    await fill_history(engine)
    counts: dict[str | None, int] = {}

    async def count() -> None:
        async with make_sessionmaker(engine)() as session:
            counts.update(
                await alert_counts.count_by_rule(
                    session, since=NOW - DAY, event_types=["charge.succeeded"]
                )
            )

    for statement in await statements_of(engine, count):
        await assert_no_full_scan(engine, statement, table="stripe_event")
    # What arrived in the last 24 hours, however old Stripe's event was:
    # 25 a day (every third took rule r1), and the three late deliveries;
    # the one Stripe created exactly 24 hours ago came a minute later, inside.
    async with engine.connect() as conn:
        expected: dict[str | None, int] = {
            row[0]: int(row[1])
            for row in (
                await conn.execute(
                    text(
                        "SELECT alert_rule, count(*) FROM stripe_event "
                        "WHERE received_at >= :since GROUP BY alert_rule"
                    ),
                    {"since": NOW - DAY},
                )
            ).all()
        }
    assert counts == expected
    assert counts["r2"] == 3
    assert counts["r1"] + counts[None] == PER_DAY + 1
