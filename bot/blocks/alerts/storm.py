"""One message in place of a storm of alerts: counts, totals, largest amounts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.blocks import context, escape, header, section
from bot.money import format_amount
from bot.storm_csv import FAILURE_TYPES, StormRow

# How much of each list the message shows; the CSV in its thread has it all.
TYPES_SHOWN = 20
CURRENCIES_SHOWN = 10
LARGEST_SHOWN = 5
NAMED_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Unfolded:
    """Messages with buttons (dispute cards, refund requests) waiting in the
    channel: they go out as themselves, the summary names them."""

    count: int
    names: Sequence[str]


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _type_order(item: tuple[str, int]) -> tuple[int, int, str]:
    event_type, count = item
    if event_type in FAILURE_TYPES:
        return (0, FAILURE_TYPES.index(event_type), event_type)
    return (1, -count, event_type)


def _counts(rows: Sequence[StormRow]) -> str:
    by_type = sorted(Counter(r.type for r in rows).items(), key=_type_order)
    lines = [
        f"{':x: ' if t in FAILURE_TYPES else ''}`{escape(t)}`: {n:,}"
        for t, n in by_type[:TYPES_SHOWN]
    ]
    if len(by_type) > TYPES_SHOWN:
        lines.append(f"…and {len(by_type) - TYPES_SHOWN} more types")
    return "*Events by type*\n" + "\n".join(lines)


def _totals(rows: Sequence[StormRow]) -> str | None:
    totals: dict[str, int] = defaultdict(int)
    counts: Counter[str] = Counter()
    failed: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.amount is None or r.currency is None:
            continue
        totals[r.currency] += r.amount
        counts[r.currency] += 1
        if r.failed:
            failed[r.currency] += r.amount
    if not totals:
        return None
    lines = []
    for currency, n in counts.most_common(CURRENCIES_SHOWN):
        line = f"{escape(format_amount(totals[currency], currency))} in {n:,}"
        if currency in failed:
            line += f" ({escape(format_amount(failed[currency], currency))} failed)"
        lines.append(line)
    if len(counts) > CURRENCIES_SHOWN:
        lines.append(f"…and {len(counts) - CURRENCIES_SHOWN} more currencies")
    return "*Totals by currency*\n" + "\n".join(lines)


def _line(row: StormRow, amount: int, currency: str) -> str:
    return (
        f"{escape(format_amount(amount, currency))} · `{escape(row.type)}` "
        f"`{escape(row.object_id or row.event_id)}`"
    )


def _largest(rows: Sequence[StormRow], *, failed: bool) -> str | None:
    """The largest amounts of the busiest currencies (amounts in different
    currencies are not compared: there is no exchange rate here)."""
    by_currency: dict[str, list[tuple[int, StormRow]]] = defaultdict(list)
    for r in rows:
        if r.amount is not None and r.currency is not None and r.failed == failed:
            by_currency[r.currency].append((r.amount, r))
    if not by_currency:
        return None
    busiest = sorted(by_currency, key=lambda c: (-len(by_currency[c]), c))
    lines = []
    for currency in busiest[:3]:
        # Minor units compare within one currency (one exponent).
        top = sorted(by_currency[currency], key=lambda p: (-p[0], p[1].event_id))
        lines += [_line(r, amount, currency) for amount, r in top[:LARGEST_SHOWN]]
    title = "Largest failed amounts" if failed else "Largest amounts"
    return f"*{title}*\n" + "\n".join(lines)


def _named(unfolded: Unfolded) -> str | None:
    if unfolded.count == 0:
        return None
    names = ", ".join(f"`{escape(n)}`" for n in unfolded.names[:NAMED_SHOWN])
    more = unfolded.count - min(len(unfolded.names), NAMED_SHOWN)
    if more > 0:
        names += f" and {more:,} more"
    return (
        f":point_down: Not folded here, posted on their own with their buttons: "
        f"{_plural(unfolded.count, 'message')}: {names}"
    )


def build_storm_summary(
    rows: Sequence[StormRow], unfolded: Unfolded
) -> tuple[str, list[dict[str, Any]]]:
    """The summary of a storm's alerts: (fallback text, blocks)."""
    if not rows:
        raise ValueError("a storm summary needs at least one event")
    failures = sum(r.failed for r in rows)
    title = f":rotating_light: Storm: {_plural(len(rows), 'Stripe event')}"
    text = f"{title[len(':rotating_light: ') :]}, {_plural(failures, 'failure')}"
    blocks = [header(title)]
    if failures:
        blocks.append(
            section(f":x: *{_plural(failures, 'failure')}* among them, listed first.")
        )
    blocks.append(section(_counts(rows)))
    parts = [
        _largest(rows, failed=True),
        _totals(rows),
        _largest(rows, failed=False),
        _named(unfolded),
    ]
    blocks += [section(part) for part in parts if part]
    blocks.append(
        context(
            "Too many alerts to post one by one. Every event, one row each, "
            "is in the CSV file in this thread."
        )
    )
    return text, blocks
