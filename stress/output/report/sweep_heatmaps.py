"""A grid sweep's heat maps: liquidation probability and ES 99 % per mode at every point of two
swept parameters, and the mode the verdict recommends there.

The other parameters are held at one combination of values, chosen from a dropdown
(`stress.output.report.sweep_grid`). A random sweep, or a grid with a single parameter, has no
grid to colour: it gets scatters instead (`stress.output.report.sweep_points`).
"""

from __future__ import annotations

import math
from typing import Any

from stress.output.report.figure import Figure, base_layout
from stress.output.report.fmt import label, mode_colour
from stress.output.report.sweep_grid import Grid, add_menu, hover_head, panel_layout
from stress.output.report.sweep_values import (
    HEIGHT,
    metric_text,
    metric_value,
    param_title,
    unit_phrase,
)

SHORT = {"isolated": "iso", "cross": "cross", "as_configured": "as cfg"}
"""Mode names short enough to print inside a heat-map cell."""

# light to dark: low risk reads as pale, high risk as dark, in print and in grey
P_SCALE = [[0, "#fff7ec"], [0.25, "#fdd49e"], [0.5, "#fc8d59"], [0.75, "#d7301f"], [1, "#7f0000"]]
ES_SCALE = [[0, "#fcfbfd"], [0.25, "#dadaeb"], [0.5, "#9e9ac8"], [0.75, "#6a51a3"], [1, "#3f007d"]]


def _rounded(value: float | None, digits: int) -> float | None:
    """A cell's value for the JSON: rounded, and None where there is no finite number."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


def metric_heatmap(
    ports: list[dict], grid: Grid, modes: list[str], metric: str, share: bool
) -> Figure:
    """Per mode, `metric` at every point of the grid, on one colour scale for all panels.

    Parameters
    ----------
    ports : summary.json's portfolios
    grid : their arrangement
    modes : the panels, left to right
    metric : "p_liquidation" (plotted in %) or "es_99" (USDT, or % of the wallet)
    share : plot ES 99 % as a share of each portfolio's wallet

    Returns
    -------
    Figure
        One heat-map trace per (slice, mode), in that order; only the default slice visible.
    """
    name, unit_title, number = metric_text(metric, share)
    xt, yt = grid.tick_labels()
    # the hover shows the exact value: a cent of USDT, a hundredth of a percentage point
    digits = 2 if metric == "es_99" and not share else 4
    data, tops = [], []
    for s, cells in enumerate(grid.cell):
        top = 0.0
        for j, mode in enumerate(modes):
            z = [
                [None if i is None else metric_value(ports[i], mode, metric, share) for i in row]
                for row in cells
            ]
            top = max([top, *(_rounded(v, digits) for row in z for v in row if v is not None)])
            data.append(
                {
                    "type": "heatmap",
                    "name": label(mode),
                    "x": xt,
                    "y": yt,
                    "z": [[_rounded(v, digits) for v in row] for row in z],
                    "customdata": [
                        ["" if i is None else label(ports[i]["name"]) for i in row] for row in cells
                    ],
                    "xaxis": "x" if j == 0 else f"x{j + 1}",
                    "yaxis": "y",
                    "coloraxis": "coloraxis",
                    "xgap": 1,
                    "ygap": 1,
                    "hoverongaps": False,
                    "visible": s == grid.default,
                    "hovertemplate": hover_head(grid, s)
                    + f"{name} {number}<extra>{label(mode)}</extra>",
                }
            )
        tops.append(top or 1.0)
    title = f"{name[0].upper()}{name[1:]} by {grid.x} and {grid.y}, per mode"
    relayout = [{"coloraxis.cmax": t} for t in tops]
    layout = panel_layout(title, grid, modes, relayout=relayout)
    bar = {"title": {"text": unit_title, "side": "right"}, "thickness": 14, "x": 0.93}
    scale = P_SCALE if metric == "p_liquidation" else ES_SCALE
    layout["coloraxis"] = {
        "colorscale": scale,
        "cmin": 0,
        "cmax": tops[grid.default],
        "colorbar": bar,
    }
    unit = unit_phrase(metric, share)
    caption = (
        f"Each cell is one portfolio of the sweep under one margin mode, and the darker it is, "
        f"the higher its {name} ({unit}); the panels share one colour scale spanning the values "
        "shown, blank cells are points that could not be opened, and hovering shows the exact "
        "value with the portfolio's name." + grid.sampled_text()
    )
    return Figure(f"sweep-{metric}", title, caption, data, layout, group="wide")


def _recommended(ports: list[dict], i: int | None) -> str | None:
    """The mode recommended for portfolio `i` (None for an empty cell or without a verdict)."""
    return None if i is None else (ports[i].get("verdict") or {}).get("recommended")


def _mode_scale(modes: list[str]) -> list[list]:
    """A stepped colour scale: value j (the j-th mode) is drawn in that mode's colour."""
    scale = []
    for j, mode in enumerate(modes):
        scale += [[j / len(modes), mode_colour(mode)], [(j + 1) / len(modes), mode_colour(mode)]]
    return scale


def _best_mode_trace(
    ports: list[dict], grid: Grid, s: int, modes: list[str], show_text: bool
) -> dict[str, Any]:
    """The heat map of slice `s`: each cell's recommended mode as its index in `modes`."""
    xt, yt = grid.tick_labels()
    n = len(modes)
    cells = grid.cell[s]
    rec = [[_recommended(ports, i) for i in row] for row in cells]
    trace = {
        "type": "heatmap",
        "x": xt,
        "y": yt,
        "z": [[modes.index(r) if r in modes else None for r in row] for row in rec],
        "customdata": [
            [
                ["", ""] if i is None else [label(ports[i]["name"]), r or "no single pick"]
                for i, r in zip(a, b, strict=True)
            ]
            for a, b in zip(cells, rec, strict=True)
        ],
        "zmin": -0.5,
        "zmax": n - 0.5,
        "colorscale": _mode_scale(modes),
        "showscale": True,
        "colorbar": {
            "title": {"text": "recommended mode", "side": "right"},
            "tickvals": list(range(n)),
            "ticktext": [label(m) for m in modes],
            "thickness": 14,
        },
        "xgap": 1,
        "ygap": 1,
        "hoverongaps": False,
        "visible": s == grid.default,
        "hovertemplate": hover_head(grid, s).replace("%{customdata}", "%{customdata[0]}")
        + "recommended: <b>%{customdata[1]}</b><extra></extra>",
    }
    if show_text:
        trace["text"] = [[SHORT.get(r, "") if r else "" for r in row] for row in rec]
        trace["texttemplate"] = "%{text}"
        trace["textfont"] = {"size": 10, "color": "#ffffff"}
    return trace


def _how_chosen(ports: list[dict]) -> str:
    """The rule that picked the modes on the map, in a few words."""
    picked = [p["verdict"] for p in ports if (p.get("verdict") or {}).get("recommended")]
    if not picked:
        return "no mode is recommended"
    v = picked[0]
    if v.get("decided_by") == "risk_capital":
        return (
            "the lowest liquidation probability among the modes whose ES 99 % stays within the "
            f"risk capital of {v['risk_capital']:,.0f} USDT"
        )
    judged = {"es_99": "ES 99 %", "p_liquidation": "liquidation probability"}.get(
        v.get("objective"), "expected loss"
    )
    return f"best {judged}, ties to the lower liquidation probability"


def _best_mode_caption(ports: list[dict], modes: list[str], grid: Grid) -> str:
    """What the map shows, and how many portfolios of the whole sweep each mode won."""
    counts = {m: 0 for m in modes}
    none = 0
    for p in ports:
        r = (p.get("verdict") or {}).get("recommended")
        if r in counts:
            counts[r] += 1
        none += r is None
    tally = ", ".join(f"{m} at {c:,}" for m, c in counts.items() if c)
    if none:
        tally += f"{', ' if tally else ''}no single pick at {none:,} (blank cells)"
    return (
        f"The mode the verdict recommends at each point ({_how_chosen(ports)}), in the mode "
        f"colours: the choice flips where the colour changes. Over the whole sweep: {tally} of "
        f"{len(ports):,} portfolios." + grid.sampled_text()
    )


def best_mode_map(ports: list[dict], grid: Grid, modes: list[str]) -> Figure:
    """The recommended mode at every point, in the mode colours; the choice flips where the
    colour changes."""
    show_text = len(grid.xs) <= 16 and len(grid.ys) <= 24
    data = [_best_mode_trace(ports, grid, s, modes, show_text) for s in range(len(grid.cell))]
    title = f"Recommended mode by {grid.x} and {grid.y}"
    layout = base_layout(title, param_title(grid.x), param_title(grid.y), height=HEIGHT)
    layout["margin"] = {"l": 90, "r": 24, "t": 96, "b": 56}
    layout["xaxis"].update(grid.category_axis("x"))
    layout["yaxis"].update(grid.category_axis("y"))
    layout["annotations"] = []
    add_menu(layout, grid, n_traces_per_slice=1, height=HEIGHT)
    caption = _best_mode_caption(ports, modes, grid)
    return Figure("sweep-best-mode", title, caption, data, layout, group="small")
