"""The report's plotly figures as plain dicts (data + layout), ready for Plotly.newPlot.

Plain dicts rather than `plotly.graph_objects`: no template (about 10 kB per figure) is
embedded, and the JSON holds only what is drawn. Every user string in here has been through
`fmt.label` by the caller or is escaped here; numbers are rounded to a few significant digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stress.output.report.fmt import (
    MODE_DASH,
    QUOTE,
    label,
    mode_colour,
    money,
    pct,
    price,
    rgba,
    sig,
)
from stress.output.report.series import TimeAxis

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
GRID = "#e8eaed"
BAND = "#64748b"  # slate: asset prices are not a mode, so they get no mode colour
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


def _time_title(axis: TimeAxis) -> str:
    return f"time since start ({axis.unit})"


def _stagger(values: list[float], span: float, gap: float) -> list[int]:
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


def price_fan(
    key: str,
    asset: str,
    axis: TimeAxis,
    bands: np.ndarray,
    liq_lines: list[tuple[str, list[str], float]],
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
    # every off-chart note gets a row of its own beyond the data, clear of the fan and lines
    n_above = sum(ln[2] > window[1] for ln in off)
    n_below = len(off) - n_above
    y_range = [y_lo - pad * (1 + n_below), y_hi + pad * (1 + n_above)]
    annotations = []
    shown.sort(key=lambda ln: ln[2])
    slots = _stagger([ln[2] for ln in shown], y_range[1] - y_range[0], 0.07)
    for (pid, modes, p), slot in zip(shown, slots, strict=True):
        colour = mode_colour(modes[0])
        name = f"{label(pid)} · {', '.join(modes)}"
        data.append(
            {
                "x": [x[0], x[-1]],
                "y": [p, p],
                "mode": "lines",
                "line": {"color": colour, "width": 1.6, "dash": "dash"},
                "name": name,
                "showlegend": False,
                "hovertemplate": f"%{{y:,.6g}} {QUOTE}<extra></extra>",
            }
        )
        annotations.append(
            {
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
        )
    above_lines = sorted((ln for ln in off if ln[2] > window[1]), key=lambda ln: -ln[2])
    below_lines = sorted((ln for ln in off if ln[2] < window[0]), key=lambda ln: ln[2])
    row_height = pad / (y_range[1] - y_range[0])
    for i, (pid, modes, p) in enumerate([*above_lines, *below_lines]):
        above = p > window[1]
        row = i if above else i - len(above_lines)
        annotations.append(
            {
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
        )
    title = f"{asset} mark price"
    layout = base_layout(title, _time_title(axis), f"{label(asset)} price ({QUOTE})")
    layout["yaxis"]["range"] = y_range
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
            "title": {"text": _time_title(axis)},
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


def _tail_marks(tails: dict[str, dict[str, float]]) -> list[tuple[float, str, str, str]]:
    """One (value, label, dash, colour's mode) per distinct VaR/ES value, naming its modes.

    Identical values (VaR = ES when the tail is a point mass, cross = as_configured) would draw
    lines on top of each other with unreadable stacked labels; one line says it all.
    """
    names = {"var_99": "VaR 99 %", "es_99": "ES 99 %"}
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
    # outlines, not bars: three overlaid translucent bar sets mix into colours no mode has
    floor = 100 * 0.1 / n_paths  # below the axis: an empty bin drops the outline off the chart
    top = max(float(share.max()) for _, share in groups) * 100
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
    marks = _tail_marks(tails)
    lo, hi = float(edges[0]), float(edges[-1])
    rows = _stagger([m[0] for m in marks], hi - lo, 0.3)
    annotations = []
    for (v, text, dash, mode), row in zip(marks, rows, strict=True):
        colour = mode_colour(mode)
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
                "xanchor": "right" if v > lo + 0.6 * (hi - lo) else "left",
                "xshift": -4 if v > lo + 0.6 * (hi - lo) else 4,
                "text": f"{text}: {money(v, 0)}",
                "showarrow": False,
                "font": {"size": 11.5, "color": colour},
                "bgcolor": "rgba(255,255,255,0.9)",
            }
        )
    if lumped > 0:
        annotations.append(
            {
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
        )
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


def liquidation_curve(
    key: str, axis: TimeAxis, curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> Figure:
    """Cumulative liquidation probability over time per mode, with its 95 % Wilson band.

    Parameters
    ----------
    curves : {mode: (p, lo, hi)}, each (n_points,) on `axis`, probabilities in [0, 1]
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
    layout = base_layout(title, _time_title(axis), "paths liquidated so far (%)")
    layout["yaxis"].update(ticksuffix=" %", rangemode="tozero")
    layout["hovermode"] = "x unified"
    caption = (
        "Share of all paths on which the book had at least one liquidation by each time, with "
        "its 95 % confidence band; the curve's end is the liquidation probability in the table."
    )
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


def trigger_bars(key: str, ids: list[str], counts: dict[str, tuple[int, dict[str, int]]]) -> Figure:
    """Which position's move set off the cross bucket's liquidations, per mode.

    Parameters
    ----------
    ids : every cross-bucket position id (unescaped), the x categories
    counts : {mode: (liquidations, {id: liquidations it triggered})}, modes with >= 1
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
                "name": f"{mode} ({n_liq:,} liquidations)",
                "marker": {"color": mode_colour(mode)},
                "customdata": [by_id.get(i, 0) for i in ids],
                "text": [pct(v, 1) if np.isfinite(v) else "" for v in share],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{y:.1f} % (%{customdata:,} paths)"
                "<extra>%{fullData.name}</extra>",
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
