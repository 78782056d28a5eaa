"""A day's report from the tallied figures: the day, the 7 before, 14 to chart.

Days are local days of TIMEZONE, from local midnight to local midnight (23
or 25 hours across a DST change).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, tzinfo

from bot.daily.figures import DayFigures, Table

AVERAGE_DAYS = 7
CHART_DAYS = 14
# The chart has room for this many currencies, those with the most payments.
CHART_CURRENCIES = 3


def local_midnight(day: date, zone: tzinfo) -> float:
    """The epoch second at which `day` begins in `zone`."""
    return datetime.combine(day, time(0), tzinfo=zone).timestamp()


def due_at(day: date, at: time, zone: tzinfo) -> float:
    """The epoch second of `at` on `day` in `zone` (a time skipped by a DST
    change is read with the offset before it, so it still comes once)."""
    return datetime.combine(day, at, tzinfo=zone).timestamp()


def local_date(ts: float, zone: tzinfo) -> date:
    return datetime.fromtimestamp(ts, zone).date()


def chart_days(day: date) -> list[date]:
    """The 14 days the chart shows, ending with `day`."""
    return [day - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]


@dataclass(frozen=True)
class Averages:
    """Daily averages of each figure over the covered days before."""

    values: dict[str, float]

    def __getitem__(self, name: str) -> float:
        return self.values[name]


@dataclass(frozen=True)
class CurrencyReport:
    currency: str
    day: DayFigures
    average: Averages | None  # None: no day before was covered


@dataclass(frozen=True)
class ChartSeries:
    """One currency's 14 days: gross and refunded, minor units."""

    currency: str
    days: list[date]
    gross: list[int]
    refunded: list[int]


@dataclass(frozen=True)
class Report:
    day: date
    zone_name: str
    currencies: list[CurrencyReport]
    # How many of the 7 days before (and of the 14 charted) the bot was running.
    average_days: int
    chart_days: int
    # When the bot stored its first event (local time), None if never.
    first_event_at: datetime | None
    series: list[ChartSeries]

    @property
    def day_partly_covered(self) -> bool:
        return self.first_event_at is not None and self.first_event_at.date() == (
            self.day
        )

    @property
    def covers_less_than_shown(self) -> bool:
        return self.chart_days < CHART_DAYS


def _covered(day: date, first_event_at: datetime | None) -> bool:
    """Was the bot running (storing events) at some time on `day`?"""
    return first_event_at is not None and first_event_at.date() <= day


def build_report(
    table: Table,
    *,
    day: date,
    zone: tzinfo,
    zone_name: str,
    first_event_at: float | None,
) -> Report:
    """The report for `day` from figures tallied over its 14 charted days."""
    first = (
        None if first_event_at is None else datetime.fromtimestamp(first_event_at, zone)
    )
    before = [day - timedelta(days=n) for n in range(1, AVERAGE_DAYS + 1)]
    covered_before = [d for d in before if _covered(d, first)]
    shown = chart_days(day)
    currencies = sorted({cur for (d, cur) in table if d == day or d in covered_before})
    reports = []
    for cur in currencies:
        today = table.get((day, cur), DayFigures())
        average = None
        if covered_before:
            total = DayFigures()
            for d in covered_before:
                total.add(table.get((d, cur), DayFigures()))
            average = Averages(
                {
                    f.name: getattr(total, f.name) / len(covered_before)
                    for f in fields(total)
                }
            )
        reports.append(CurrencyReport(cur, today, average))
    return Report(
        day=day,
        zone_name=zone_name,
        currencies=reports,
        average_days=len(covered_before),
        chart_days=sum(1 for d in shown if _covered(d, first)),
        first_event_at=first,
        series=_series(table, shown),
    )


def _series(table: Table, shown: list[date]) -> list[ChartSeries]:
    """Gross and refunds of the currencies with the most payments in view."""
    payments: dict[str, int] = {}
    for (d, cur), figures in table.items():
        if d in shown:
            payments[cur] = payments.get(cur, 0) + figures.payments + figures.refunds
    main = sorted(payments, key=lambda cur: (-payments[cur], cur))[:CHART_CURRENCIES]
    return [
        ChartSeries(
            currency=cur,
            days=shown,
            gross=[table.get((d, cur), DayFigures()).gross for d in shown],
            refunded=[table.get((d, cur), DayFigures()).refunded for d in shown],
        )
        for cur in main
    ]
