"""The daily summary's words (mrkdwn, the comment on its chart): pure."""

from __future__ import annotations

from datetime import date

from bot.blocks import escape
from bot.daily.figures import DayFigures
from bot.daily.report import AVERAGE_DAYS, CHART_DAYS, Averages, Report
from bot.money import format_amount


def _day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _count(value: float) -> str:
    return f"{value:.1f}"


def _money(value: float, currency: str) -> str:
    # Averages of minor units, shown to the nearest minor unit.
    return escape(format_amount(round(value), currency))


def _lines(currency: str, f: DayFigures, a: Averages | None) -> list[str]:
    def avg(*names: str) -> str:
        if a is None:
            return ""
        shown = [
            _money(a[n], currency) if n in ("gross", "refunded") else _count(a[n])
            for n in names
        ]
        return f" (avg {', '.join(shown)})"

    gross, refunded = _money(f.gross, currency), _money(f.refunded, currency)
    return [
        f"• Payments: {f.payments} succeeded, {gross} gross" + avg("payments", "gross"),
        f"• Failed payments: {f.failed}" + avg("failed"),
        f"• Refunds: {f.refunds}, {refunded}" + avg("refunds", "refunded"),
        f"• Disputes: {f.disputes_opened} opened, {f.disputes_won} won, "
        f"{f.disputes_lost} lost"
        + avg("disputes_opened", "disputes_won", "disputes_lost"),
        f"• Payouts: {f.payouts_paid} paid, {f.payouts_failed} failed"
        + avg("payouts_paid", "payouts_failed"),
    ]


def coverage_note(report: Report) -> str | None:
    """Say so when the bot has not been running for all the days shown."""
    first = report.first_event_at
    if first is None:
        return (
            "_The bot has not stored any Stripe event yet, so there is nothing "
            "to count._"
        )
    if not report.covers_less_than_shown:
        return None
    when = f"{_day(first.date())} {first:%H:%M}"
    parts = [
        f"_The bot has been storing events only since {when}: "
        f"the averages cover {report.average_days} of {AVERAGE_DAYS} days "
        f"and the chart {report.chart_days} of {CHART_DAYS}"
    ]
    if report.day_partly_covered:
        parts.append(", and the day itself only from then")
    return "".join(parts) + "._"


def summary_text(report: Report) -> str:
    """The summary: each currency's figures beside the 7-day average."""
    lines = [
        f"*Daily summary for {_day(report.day)}* ({escape(report.zone_name)})",
    ]
    if report.currencies and report.average_days:
        lines.append(
            "In brackets: the daily average of the "
            + (
                f"{AVERAGE_DAYS} days before."
                if report.average_days == AVERAGE_DAYS
                else f"{report.average_days} day(s) before that the bot saw."
            )
        )
    for line in report.currencies:
        lines.append("")
        lines.append(f"*{escape(line.currency.upper())}*")
        lines += _lines(line.currency, line.day, line.average)
    if not report.currencies:
        lines.append(
            "No payments, refunds, disputes or payouts in the events the bot "
            "stored for this day."
        )
    note = coverage_note(report)
    if note:
        lines += ["", note]
    return "\n".join(lines)
