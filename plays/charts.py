"""Server-side SVG charts (pygal): nothing to load from a CDN, readable without JavaScript."""

from __future__ import annotations

import pygal
from pygal.style import Style

from mqaflow.models import Funnel
from mqaflow.qualification.reports import MQACount

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2937",
    foreground_strong="#111827",
    foreground_subtle="#6b7280",
    colors=("#1d4ed8", "#0f766e", "#b45309", "#7c3aed", "#be123c", "#4d7c0f"),
    font_family="system-ui, sans-serif",
)


def mqas_chart(*, rows: list[MQACount], period: str) -> str:
    """A stacked bar chart of new MQAs per period, one series per funnel and size band."""
    periods = sorted({r.period for r in rows})
    series: dict[str, dict] = {}
    for r in rows:
        label = f"{Funnel(r.funnel).label.split(' (')[0]} · {r.size_band or 'any size'}"
        series.setdefault(label, {})[r.period] = r.count
    chart = pygal.StackedBar(
        style=STYLE,
        height=320,
        width=800,
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        x_label_rotation=30 if len(periods) > 8 else 0,
        show_y_guides=True,
        disable_xml_declaration=True,
        explicit_size=False,
        title=f"New MQAs per {period}",
        no_data_text="No new MQAs in this range",
        print_values=False,
    )
    chart.x_labels = [p.strftime("%d %b" if period == "week" else "%b %Y") for p in periods]
    for label, counts in sorted(series.items()):
        chart.add(label, [counts.get(p, 0) for p in periods])
    return chart.render(is_unicode=True)


def mqas_summary(*, rows: list[MQACount], period: str) -> str:
    """The chart's text alternative: the total, the busiest period and the split by funnel."""
    if not rows:
        return "No new MQAs in this range."
    per_period: dict = {}
    per_funnel: dict[int, int] = {}
    for r in rows:
        per_period[r.period] = per_period.get(r.period, 0) + r.count
        per_funnel[r.funnel] = per_funnel.get(r.funnel, 0) + r.count
    total = sum(per_period.values())
    peak, peak_count = max(per_period.items(), key=lambda item: (item[1], item[0]))
    split = ", ".join(
        f"{Funnel(f).label.split(' (')[0]}: {n}" for f, n in sorted(per_funnel.items())
    )
    fmt = "%d %b %Y"
    return (
        f"{total} new MQA{'s' if total != 1 else ''} in {len(per_period)} {period}"
        f"{'s' if len(per_period) != 1 else ''}; the most, {peak_count}, in the {period} of "
        f"{peak.strftime(fmt)}. By funnel: {split}. The table below lists every figure."
    )
