"""Liquidation figures: how many paths a book has lost to liquidation so far, each position's
liquidation probability, and which leg set off the cross bucket's liquidations.

Intervals are the 95 % Wilson intervals of `stress.analysis.metrics.wilson_bounds`, worked
out by the caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stress.output.report.figure import Figure, base_layout, time_title
from stress.output.report.fmt import MODE_DASH, label, mode_colour, pct, rgba, sig

if TYPE_CHECKING:
    from stress.analysis.detail import TimeAxis


def liquidation_curve(
    key: str,
    axis: TimeAxis,
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    partial: bool = False,
) -> Figure:
    """Cumulative liquidation probability over time per mode, with its 95 % Wilson band.

    Parameters
    ----------
    curves : {mode: (p, lo, hi)}, each (n_points,) on `axis`, probabilities in [0, 1]
    partial : the process closes in parts: the curve counts the first liquidation, partial or
        full, and its axis and caption say so
    """
    x = sig(axis.x)
    data = []
    for mode, (p, lo, hi) in curves.items():
        colour = mode_colour(mode)
        common = {"x": x, "mode": "lines", "legendgroup": mode, "hoverinfo": "skip"}
        data.append({**common, "y": sig(100 * lo, 5), "line": {"width": 0}, "showlegend": False})
        data.append(
            {
                **common,
                "y": sig(100 * hi, 5),
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": rgba(colour, 0.18),
                "showlegend": False,
            }
        )
        data.append(
            {
                "x": x,
                "y": sig(100 * p, 5),
                "mode": "lines",
                "name": mode,
                "legendgroup": mode,
                "line": {"color": colour, "width": 2.2, "dash": MODE_DASH.get(mode, "solid")},
                "hovertemplate": "%{y:.2f} %<extra>%{fullData.name}</extra>",
            }
        )
    title = "Liquidated so far, over time"
    y_title = (
        "first liquidation (partial or full) so far (%)"
        if partial
        else "paths liquidated so far (%)"
    )
    layout = base_layout(title, time_title(axis), y_title)
    layout["yaxis"].update(ticksuffix=" %", rangemode="tozero")
    layout["hovermode"] = "x unified"
    caption = (
        "Share of all paths on which the book had at least one liquidation by each time, with "
        "its 95 % confidence band; the curve's end is the liquidation probability in the table."
    )
    if partial:
        caption += " It counts the first liquidation, partial or full, so it is when the venue "
        caption += "first closed something."
    return Figure(key, title, caption, data, layout)


def position_bars(
    key: str,
    ids: list[str],
    probs: dict[str, list[tuple[float, float, float]]],
) -> Figure:
    """Per-position liquidation probability, bars grouped by mode with 95 % intervals.

    Parameters
    ----------
    ids : position ids (unescaped), the x categories
    probs : {mode: [(p, lo, hi) per id]}
    """
    cats = [label(i) for i in ids]
    data = []
    for mode, rows in probs.items():
        p = np.array([r[0] for r in rows])
        lo = np.array([r[1] for r in rows])
        hi = np.array([r[2] for r in rows])
        data.append(
            {
                "type": "bar",
                "x": cats,
                "y": sig(100 * p, 5),
                "name": mode,
                "marker": {"color": mode_colour(mode)},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": sig(100 * (hi - p), 4),
                    "arrayminus": sig(100 * (p - lo), 4),
                    "color": "#3e4c59",
                    "thickness": 1.2,
                    "width": 3,
                },
                "text": [pct(v, 1) for v in p],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{y:.2f} %<extra>%{fullData.name}</extra>",
            }
        )
    title = "Liquidation risk by position"
    layout = base_layout(title, "position", "paths on which it is liquidated (%)")
    layout["xaxis"]["type"] = "category"  # ids like "1" must stay labels, not numbers
    layout["yaxis"].update(ticksuffix=" %", rangemode="tozero")
    layout["barmode"] = "group"
    caption = (
        "Share of all paths on which each position is liquidated, per margin mode, with 95 % "
        "intervals (in cross every position of the bucket goes at once)."
    )
    return Figure(key, title, caption, data, layout)


def trigger_bars(
    key: str,
    ids: list[str],
    counts: dict[str, tuple[int, dict[str, int]]],
    weighted: bool = False,
) -> Figure:
    """Which position's move set off the cross bucket's liquidations, per mode.

    Parameters
    ----------
    ids : every cross-bucket position id (unescaped), the x categories
    counts : {mode: (liquidations, {id: liquidations it triggered})}, modes with >= 1
    weighted : the counts are importance-sampling weighted sums, not paths: the legend and
        hover show shares only
    """
    cats = [label(i) for i in ids]
    data = []
    for mode, (n_liq, by_id) in counts.items():
        share = np.array([by_id.get(i, 0) / n_liq if i in by_id else np.nan for i in ids])
        data.append(
            {
                "type": "bar",
                "x": cats,
                "y": sig(100 * share, 5),
                "name": f"{mode} (weighted)" if weighted else f"{mode} ({n_liq:,} liquidations)",
                "marker": {"color": mode_colour(mode)},
                "customdata": [by_id.get(i, 0) for i in ids],
                "text": [pct(v, 1) if np.isfinite(v) else "" for v in share],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": (
                    "%{y:.1f} %" if weighted else "%{y:.1f} % (%{customdata:,} paths)"
                )
                + "<extra>%{fullData.name}</extra>",
            }
        )
    title = "Cross liquidation triggers"
    layout = base_layout(title, "position whose move lost the most", "share of liquidations (%)")
    layout["xaxis"]["type"] = "category"
    layout["yaxis"].update(ticksuffix=" %", range=[0, 112])
    layout["barmode"] = "group"
    caption = (
        "Of the paths on which the cross bucket was liquidated, the share on which each "
        "position's price move since the start had lost the most at that moment: the leg that "
        "dragged the shared wallet down."
    )
    return Figure(key, title, caption, data, layout)
