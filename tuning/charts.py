"""The backtest chart: server-side SVG (pygal), like the plays reports."""

from __future__ import annotations

from datetime import date
from typing import Any

import pygal

from plays.charts import STYLE

DASHED = {"dasharray": "6, 4", "width": 2}
SOLID = {"width": 3}


def backtest_chart(*, results: dict[str, Any]) -> str:
    """New MQAs per week, one line per funnel × size band: solid under the draft, dashed
    under the live set."""
    weeks = [date.fromisoformat(w) for w in results.get("weeks", [])]
    series: dict[tuple[str, str], dict[str, list[int]]] = {}
    for row in results.get("mqas", []):
        segment = (row["funnel_label"], row["size_band"] or "any size")
        found = series.setdefault(segment, {"draft": [0] * len(weeks), "live": [0] * len(weeks)})
        i = results["weeks"].index(row["week"])
        found["draft"][i] = row["draft"]
        found["live"][i] = row["live"]
    chart = pygal.Line(
        style=STYLE,
        height=340,
        width=800,
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        x_label_rotation=30 if len(weeks) > 8 else 0,
        show_y_guides=True,
        disable_xml_declaration=True,
        explicit_size=False,
        title="New MQAs per week: draft (solid) vs live (dashed)",
        no_data_text="No new MQAs in this period under either set",
        print_values=False,
        min_scale=1,
    )
    chart.x_labels = [w.strftime("%d %b") for w in weeks]
    for (funnel, band), sides in sorted(series.items()):
        chart.add(f"{funnel} · {band} — draft", sides["draft"], stroke_style=SOLID)
        chart.add(f"{funnel} · {band} — live", sides["live"], stroke_style=DASHED)
    return chart.render(is_unicode=True)
