"""The loss distribution figure: each mode's share of paths per loss bin (log scale), with
VaR 99 % and ES 99 % marked.

The bins come from `series.loss_histogram`, over every path of the run when it kept a histogram.
"""

from __future__ import annotations

import numpy as np

from stress.output.report.figure import Figure, base_layout, stagger
from stress.output.report.fmt import MODE_DASH, QUOTE, mode_colour, money, pct, sig

TAIL_NAMES = {"var_99": "VaR 99 %", "es_99": "ES 99 %"}


def _tail_marks(tails: dict[str, dict[str, float]]) -> list[tuple[float, str, str, str]]:
    """One (value, label, dash, colour's mode) per distinct VaR/ES value, naming its modes.

    Identical values (VaR = ES when the tail is a point mass, cross = as_configured) would draw
    lines on top of each other with unreadable stacked labels; one line says it all.
    """
    names = TAIL_NAMES
    at: dict[float, dict[str, list[str]]] = {}
    for mode, t in tails.items():
        for metric in names:
            at.setdefault(round(t[metric], 2), {}).setdefault(metric, []).append(mode)
    marks = []
    for v in sorted(at):
        by_metric = at[v]
        mode_sets = {tuple(m) for m in by_metric.values()}
        if len(mode_sets) == 1:
            text = f"{' = '.join(names[m] for m in by_metric)} {', '.join(next(iter(mode_sets)))}"
        else:
            text = "; ".join(f"{names[m]} {', '.join(ms)}" for m, ms in by_metric.items())
        dash = {1: "dash" if "var_99" in by_metric else "dot", 2: "dashdot"}[len(by_metric)]
        marks.append((v, text, dash, next(iter(by_metric.values()))[0]))
    return marks


def _outline_traces(
    edges: np.ndarray, groups: list[tuple[list[str], np.ndarray]], n_paths: int
) -> list[dict]:
    """One step outline per group of identical modes, on the log axis."""
    # outlines, not bars: three overlaid translucent bar sets mix into colours no mode has
    floor = 100 * 0.1 / n_paths  # below the axis: an empty bin drops the outline off the chart
    bounds = [[lo, hi] for lo, hi in zip(sig(edges[:-1], 5), sig(edges[1:], 5), strict=True)]
    x = sig(edges)
    data = []
    for modes, share in groups:
        colour = mode_colour(modes[0])
        name = modes[0] if len(modes) == 1 else f"{' = '.join(modes)} (identical)"
        y = [max(v, floor) for v in sig(100 * share, 5)]
        data.append(
            {
                "x": x,
                "y": [*y, y[-1]],  # "hv" steps need the last bin's right edge too
                "mode": "lines",
                "line": {"shape": "hv", "color": colour, "width": 2.2, "dash": MODE_DASH[modes[0]]},
                "name": name,
                "legendgroup": modes[0],
                "customdata": [*bounds, bounds[-1]],
                "hovertemplate": "loss %{customdata[0]:,.0f} to %{customdata[1]:,.0f} "
                + QUOTE
                + ": %{y:.3g} % of paths<extra>%{fullData.name}</extra>",
            }
        )
    return data


def _tail_lines(
    tails: dict[str, dict[str, float]], lo: float, hi: float
) -> tuple[list[dict], list[dict]]:
    """The VaR/ES lines across the histogram (on their own 0-1 axis) and their labels, staggered
    so close values do not overlap; `lo` and `hi` are the histogram's outer edges."""
    marks = _tail_marks(tails)
    rows = stagger([m[0] for m in marks], hi - lo, 0.3)
    data, annotations = [], []
    for (v, text, dash, mode), row in zip(marks, rows, strict=True):
        colour = mode_colour(mode)
        right = v > lo + 0.6 * (hi - lo)  # label on the side with room
        data.append(
            {
                "x": [v, v],
                "y": [0, 1],
                "yaxis": "y2",
                "mode": "lines",
                "line": {"color": colour, "width": 1.3, "dash": dash},
                "opacity": 0.85,
                "name": text,
                "showlegend": False,
                "hovertemplate": f"{text}: %{{x:,.2f}} {QUOTE}<extra></extra>",
            }
        )
        annotations.append(
            {
                "x": v,
                "xref": "x",
                "y": 0.98 - 0.08 * row,
                "yref": "paper",
                "yanchor": "top",
                "xanchor": "right" if right else "left",
                "xshift": -4 if right else 4,
                "text": f"{text}: {money(v, 0)}",
                "showarrow": False,
                "font": {"size": 11.5, "color": colour},
                "bgcolor": "rgba(255,255,255,0.9)",
            }
        )
    return data, annotations


def _lumped_note(lo: float, lumped: float) -> dict:
    """The note that the first bin also holds every profit beyond the histogram's range."""
    return {
        "x": 0.0,
        "xref": "paper",
        "xanchor": "left",
        "y": 0.0,
        "yref": "paper",
        "yanchor": "bottom",
        "yshift": 4,
        "text": f"◀ first bin includes every profit beyond {money(-lo, 0)} "
        f"(up to {pct(lumped, 1)} of paths)",
        "showarrow": False,
        "font": {"size": 11, "color": "#3e4c59"},
        "bgcolor": "rgba(255,255,255,0.9)",
    }


def loss_distribution(
    key: str,
    edges: np.ndarray,
    groups: list[tuple[list[str], np.ndarray]],
    tails: dict[str, dict[str, float]],
    n_paths: int,
    lumped: float = 0.0,
) -> Figure:
    """Histogram of loss per mode (overlaid, log scale) with VaR 99 % and ES 99 % marked.

    Parameters
    ----------
    edges : (bins + 1,) common bin edges in USDT
    groups : [(modes with identical per-path losses, (bins,) share of paths in each bin)]
    tails : {mode: {"var_99": ..., "es_99": ...}}
    lumped : share of paths whose profit lies beyond the first edge, counted in the first bin
    """
    top = max(float(share.max()) for _, share in groups) * 100
    lo, hi = float(edges[0]), float(edges[-1])
    lines, annotations = _tail_lines(tails, lo, hi)
    data = _outline_traces(edges, groups, n_paths) + lines
    if lumped > 0:
        annotations.append(_lumped_note(lo, lumped))
    title = "Loss distribution by margin mode"
    layout = base_layout(title, f"loss over the horizon ({QUOTE}; negative = profit)", "")
    layout["yaxis"].update(
        type="log",
        title={"text": "share of paths (%, log scale)"},
        ticksuffix=" %",
        dtick=1,  # one tick per power of ten: 0.1 %, 1 %, 10 %
        exponentformat="none",
        range=[np.log10(100 * 0.5 / n_paths), np.log10(max(top, 1e-9) * 1.6)],
    )
    layout["yaxis2"] = {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    layout["annotations"] = annotations
    layout["hovermode"] = "x unified"
    caption = (
        f"Share of all {n_paths:,} paths in each loss bin (log scale, so the rare tail stays "
        "visible); dashed lines mark VaR 99 % (1 % of paths lose more), dotted lines ES 99 % "
        "(the mean loss of that worst 1 %), dash-dot where the two coincide."
    )
    return Figure(key, title, caption, data, layout, group="wide")
