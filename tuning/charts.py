"""The backtest chart: server-side SVG (pygal), like the plays reports."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pygal
from pygal.style import Style

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
    # Each segment's two lines share its colour: solid for the draft, dashed for live.
    colours = [c for c in STYLE.colors for _ in range(2)]
    style = Style(**{**STYLE.to_dict(), "colors": tuple(colours)})
    chart = pygal.Line(
        style=style,
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
    )
    chart.x_labels = [w.strftime("%d %b") for w in weeks]
    top = max((v for sides in series.values() for vs in sides.values() for v in vs), default=0)
    step = max(1, math.ceil(top / 8))
    chart.y_labels = list(range(0, top + step + 1, step))  # counts: whole numbers only
    for (funnel, band), sides in sorted(series.items()):
        chart.add(f"{funnel} · {band} — draft", sides["draft"], stroke_style=SOLID)
        chart.add(f"{funnel} · {band} — live", sides["live"], stroke_style=DASHED)
    return chart.render(is_unicode=True)
