"""Fan charts: quantile bands over time of an asset's price (with the liquidation prices across
it) and of each mode's equity.

The bands come ready made: prices from the run's sampled paths, equity from the run itself
(`stress.analysis.detail.DetailBands`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stress.output.report.figure import Figure, base_layout, stagger, time_title
from stress.output.report.fmt import QUOTE, label, mode_colour, money, price, rgba, sig

if TYPE_CHECKING:
    from stress.analysis.detail import TimeAxis

BAND = "#64748b"  # slate: asset prices are not a mode, so they get no mode colour

LiqLine = tuple[str, list[str], float]
"""(position id, modes sharing that price, liquidation price), the id unescaped."""


def _fan_traces(x: list, bands: np.ndarray, colour: str, **axes: str) -> list[dict]:
    """5-95 % and 25-75 % bands plus the median line; `bands` is (5, n_points)."""
    common = {"x": x, "mode": "lines", **axes}
    q05, q25, q50, q75, q95 = (sig(b) for b in bands)
    edge = {"width": 0, "color": colour}
    return [
        {**common, "y": q05, "line": edge, "showlegend": False, "hoverinfo": "skip"},
        {
            **common,
            "y": q95,
            "line": edge,
            "fill": "tonexty",
            "fillcolor": rgba(colour, 0.16),
            "name": "5–95 %",
            "hoverinfo": "skip",
        },
        {**common, "y": q25, "line": edge, "showlegend": False, "hoverinfo": "skip"},
        {
            **common,
            "y": q75,
            "line": edge,
            "fill": "tonexty",
            "fillcolor": rgba(colour, 0.32),
            "name": "25–75 %",
            "hoverinfo": "skip",
        },
        {**common, "y": q50, "line": {"width": 2, "color": colour}, "name": "median"},
    ]


@dataclass(frozen=True)
class _PriceFrame:
    """A price fan's y range, and where each liquidation line goes.

    `shown` lines are drawn (lowest first); `above` (highest first) and `below` (lowest first)
    are too far out to draw and get a note at the chart's edge, one row of height `pad` each.
    """

    shown: list[LiqLine]
    above: list[LiqLine]
    below: list[LiqLine]
    y_range: list[float]
    pad: float


def _price_frame(bands: np.ndarray, liq_lines: list[LiqLine]) -> _PriceFrame:
    """Which liquidation lines fit on a price fan of `bands` (5, n_points), and its y range."""
    lo, hi = float(bands[0].min()), float(bands[-1].max())
    span = max(hi - lo, 1e-9 * max(abs(hi), 1.0))
    # a line within 60 % of the band's height stretches the axis; further out it would squash
    # the fan into a sliver, so it is listed at the edge instead
    window = (lo - 0.6 * span, hi + 0.6 * span)
    shown = [ln for ln in liq_lines if window[0] <= ln[2] <= window[1]]
    off = [ln for ln in liq_lines if not window[0] <= ln[2] <= window[1]]
    y_lo = min([lo] + [ln[2] for ln in shown])
    y_hi = max([hi] + [ln[2] for ln in shown])
    pad = 0.08 * (y_hi - y_lo or span)
    above = sorted((ln for ln in off if ln[2] > window[1]), key=lambda ln: -ln[2])
    below = sorted((ln for ln in off if ln[2] < window[0]), key=lambda ln: ln[2])
    # every off-chart note gets a row of its own beyond the data, clear of the fan and lines
    y_range = [y_lo - pad * (1 + len(below)), y_hi + pad * (1 + len(above))]
    return _PriceFrame(sorted(shown, key=lambda ln: ln[2]), above, below, y_range, pad)


def _drawn_line(x: list, line: LiqLine, slot: int) -> tuple[dict, dict]:
    """The dashed line of a liquidation price on the chart, and its label."""
    pid, modes, p = line
    colour = mode_colour(modes[0])
    name = f"{label(pid)} · {', '.join(modes)}"
    trace = {
        "x": [x[0], x[-1]],
        "y": [p, p],
        "mode": "lines",
        "line": {"color": colour, "width": 1.6, "dash": "dash"},
        "name": name,
        "showlegend": False,
        "hovertemplate": f"%{{y:,.6g}} {QUOTE}<extra></extra>",
    }
    note = {
        "x": [1.0, 0.6, 0.2][slot % 3],
        "xref": "paper",
        "y": p,
        "yref": "y",
        "xanchor": "right",
        "yanchor": "bottom",
        "text": f"{name}: {price(p)}",
        "showarrow": False,
        "font": {"size": 11, "color": colour},
        "bgcolor": "rgba(255,255,255,0.8)",
    }
    return trace, note


def _off_chart_note(line: LiqLine, above: bool, row: int, row_height: float) -> dict:
    """The note of a liquidation price beyond the chart, in row `row` from its edge."""
    pid, modes, p = line
    return {
        "x": 0.01,
        "xref": "paper",
        "xanchor": "left",
        "y": (1 - row_height * (row + 0.5)) if above else (row_height * (row + 0.5)),
        "yref": "paper",
        "yanchor": "middle",
        "text": f"{'▲' if above else '▼'} {label(pid)} · {', '.join(modes)}: {price(p)} "
        f"({'above' if above else 'below'} the chart)",
        "showarrow": False,
        "font": {"size": 11, "color": mode_colour(modes[0])},
        "bgcolor": "rgba(255,255,255,0.85)",
    }


def price_fan(
    key: str,
    asset: str,
    axis: TimeAxis,
    bands: np.ndarray,
    liq_lines: list[LiqLine],
    n_sample: int,
) -> Figure:
    """Quantile bands of one asset's mark price with liquidation prices across them.

    Parameters
    ----------
    bands : (5, n_points) price quantiles on `axis`
    liq_lines : (position id, modes sharing that price, liquidation price), ids unescaped
    """
    x = sig(axis.x)
    data = _fan_traces(x, bands, BAND)
    frame = _price_frame(bands, liq_lines)
    height = frame.y_range[1] - frame.y_range[0]
    annotations = []
    slots = stagger([ln[2] for ln in frame.shown], height, 0.07)
    for line, slot in zip(frame.shown, slots, strict=True):
        trace, note = _drawn_line(x, line, slot)
        data.append(trace)
        annotations.append(note)
    row_height = frame.pad / height
    annotations += [
        _off_chart_note(ln, True, row, row_height) for row, ln in enumerate(frame.above)
    ]
    annotations += [
        _off_chart_note(ln, False, row, row_height) for row, ln in enumerate(frame.below)
    ]
    title = f"{asset} mark price"
    layout = base_layout(title, time_title(axis), f"{label(asset)} price ({QUOTE})")
    layout["yaxis"]["range"] = frame.y_range
    layout["annotations"] = annotations
    layout["hovermode"] = "x"
    caption = (
        f"{asset} price across the first {n_sample:,} paths (median, 25–75 % and 5–95 % of "
        "paths); dashed: each position's liquidation price per mode, from today's marks."
    )
    return Figure(key, title, caption, data, layout, group="price")


def equity_fan(
    key: str, axis: TimeAxis, bands: dict[str, np.ndarray], wallet: float, n_sample: int
) -> Figure:
    """One fan panel per mode, side by side on a shared equity axis.

    Parameters
    ----------
    bands : {mode: (5, n_points) equity quantiles on `axis`}
    """
    x = sig(axis.x)
    modes = list(bands)
    n = len(modes)
    gap = 0.04
    width = (1.0 - gap * (n - 1)) / n
    data, annotations = [], []
    layout = base_layout("Equity by margin mode", "", f"equity ({QUOTE})")
    for i, mode in enumerate(modes):
        suffix = "" if i == 0 else str(i + 1)
        traces = _fan_traces(x, bands[mode], mode_colour(mode), xaxis=f"x{suffix}")
        for t in traces:
            t["showlegend"] = False
            if t.get("name") == "median":
                t["name"] = f"{mode} median"
        data.extend(traces)
        data.append(
            {
                "x": [x[0], x[-1]],
                "y": [wallet, wallet],
                "xaxis": f"x{suffix}",
                "mode": "lines",
                "line": {"color": "#3e4c59", "width": 1.3, "dash": "dot"},
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
        domain = [i * (width + gap), i * (width + gap) + width]
        layout[f"xaxis{suffix}"] = {
            **layout["xaxis"],
            "domain": domain,
            "title": {"text": time_title(axis)},
            "anchor": "y",
        }
        annotations.append(
            {
                "x": (domain[0] + domain[1]) / 2,
                "xref": "paper",
                "y": 1.0,
                "yref": "paper",
                "yanchor": "bottom",
                "text": f"<b>{mode}</b>",
                "showarrow": False,
                "font": {"color": mode_colour(mode), "size": 13},
            }
        )
    layout["annotations"] = annotations
    layout["showlegend"] = False
    layout["hovermode"] = "x"
    caption = (
        f"Equity (wallet plus open profit and loss, net of what liquidations took) along the "
        f"first {n_sample:,} paths: median, 25–75 % and 5–95 % bands; the dotted line is the "
        f"starting wallet of {money(wallet, 0)} {QUOTE}."
    )
    return Figure(key, "Equity by margin mode", caption, data, layout, group="wide")
