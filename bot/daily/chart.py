"""The daily summary's chart: 14 days of gross and refunds, as a PNG.

matplotlib is imported inside `render_chart`, not at module load: it takes
a good part of a second to import, which the server's start-up (and every
`python -m bot check`) would otherwise pay for a chart drawn once a day.
A bare `Figure` draws with the Agg backend and keeps no global pyplot state,
so renders in worker threads do not share figures.
"""

from __future__ import annotations

import io

from bot.daily.report import ChartSeries
from bot.money import exponent

WIDTH_PX = 1200
HEIGHT_PX = 675
DPI = 100
GROSS_COLOUR = "#635bff"
REFUND_COLOUR = "#ff7a59"


def render_chart(series: list[ChartSeries], *, title: str) -> bytes:
    """A PNG of WIDTH_PX x HEIGHT_PX: one panel per currency (major units)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    fig.suptitle(title, fontsize=14)
    if not series:
        fig.text(
            0.5,
            0.5,
            "No payments or refunds in the events stored for these days",
            ha="center",
            va="center",
            fontsize=12,
        )
    else:
        axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
        for ax, one in zip(axes, series, strict=True):
            _panel(ax, one, FuncFormatter)
        axes[-1].set_xticks(range(len(series[0].days)))
        axes[-1].set_xticklabels([f"{d:%a}\n{d.day} {d:%b}" for d in series[0].days])
        # Above the panels, clear of the bars.
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper right", frameon=False, ncols=2)
    # A fixed layout, not bbox_inches="tight": the file is exactly the size
    # the summary promises, whatever the labels.
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.12, hspace=0.35)
    out = io.BytesIO()
    # No "Software" entry: the same figures make the same bytes.
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _panel(ax: object, one: ChartSeries, formatter: type) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    unit = 10 ** exponent(one.currency)
    x = list(range(len(one.days)))
    width = 0.4
    ax.bar(
        [i - width / 2 for i in x],
        [g / unit for g in one.gross],
        width,
        label="Gross",
        color=GROSS_COLOUR,
    )
    ax.bar(
        [i + width / 2 for i in x],
        [r / unit for r in one.refunded],
        width,
        label="Refunds",
        color=REFUND_COLOUR,
    )
    ax.set_ylabel(one.currency.upper())
    ax.yaxis.set_major_formatter(formatter(lambda v, _pos: f"{v:,.0f}"))
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
