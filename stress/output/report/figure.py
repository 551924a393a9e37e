"""One report figure (`Figure`) and the house look every figure starts from.

Figures are plain dicts rather than `plotly.graph_objects`: no template (about 10 kB per figure)
is embedded, and the JSON holds only what is drawn. Every user string in a figure has been
through `fmt.label` by the caller or is escaped where it is built; numbers are rounded to a few
significant digits. The figures themselves: `fans`, `loss_distribution`, `liquidations`, and the
overview's and a sweep's (`overview`, `sweep_heatmaps`, `sweep_points`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stress.output.report.fmt import label

if TYPE_CHECKING:
    from stress.analysis.detail import TimeAxis

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
GRID = "#e8eaed"
HEIGHT = 380


@dataclass
class Figure:
    """One figure: an HTML id, a title and caption for the page, and the plotly spec."""

    key: str
    title: str  # plain text; autoescaped by the template
    caption: str  # one sentence, plain text
    data: list[dict[str, Any]] = field(default_factory=list)
    layout: dict[str, Any] = field(default_factory=dict)
    group: str = "small"  # "price" | "wide" | "small": which row of the page it sits in

    def spec(self) -> dict[str, Any]:
        return {"data": self.data, "layout": self.layout}


def base_layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    """House look: white, thin grid, title top left, legend in one row above the plot."""
    layout = {
        # title at the very top, legend in its own row under it: they never overlap
        "title": {
            "text": label(title),
            "x": 0.0,
            "xanchor": "left",
            "xref": "paper",
            "y": 1.0 - 10.0 / HEIGHT,
            "yanchor": "top",
            "font": {"size": 15},
        },
        "font": {"family": FONT, "size": 12, "color": "#1f2933"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "height": HEIGHT,
        "margin": {"l": 72, "r": 24, "t": 84, "b": 52},
        "xaxis": {
            "title": {"text": x_title},
            "gridcolor": GRID,
            "zeroline": False,
            "showline": True,
            "linecolor": "#9aa5b1",
        },
        "yaxis": {
            "title": {"text": y_title},
            "gridcolor": GRID,
            "zeroline": False,
            "showline": True,
            "linecolor": "#9aa5b1",
        },
        "legend": {
            "orientation": "h",
            "x": 0.0,
            "y": 1.02,
            "xanchor": "left",
            "yanchor": "bottom",
            "bgcolor": "rgba(255,255,255,0)",
        },
        "hoverlabel": {"font": {"family": FONT}},
    }
    layout.update(extra)
    return layout


def time_title(axis: TimeAxis) -> str:
    """The x-axis title of a time series."""
    return f"time since start ({axis.unit})"


def stagger(values: list[float], span: float, gap: float) -> list[int]:
    """A row (0, 1, ...) for each label so labels closer than `gap * span` do not overlap."""
    rows: list[int] = []
    last_in_row: dict[int, float] = {}
    for v in values:
        row = 0
        while row in last_in_row and abs(v - last_in_row[row]) < gap * span:
            row += 1
        rows.append(row)
        last_in_row[row] = v
    return rows
