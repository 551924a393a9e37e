"""A sweep's own figures: the risk of every point against the swept parameters.

A grid sweep gets heat maps over two of its parameters (by default the two with the most
distinct values): liquidation probability and ES 99 % per mode, and the mode the verdict
recommends at each point. The other parameters are held at one combination of values, chosen
from a dropdown. A random sweep (or a grid with a single parameter) has no grid to colour:
it gets scatters of each parameter against each metric, coloured by mode. Both get the
trade-off of the recommended mode at each point (liquidation probability against ES 99 %) with
its Pareto frontier.

Sizes are bounded whatever the sweep: a heat map panel holds at most `MAX_CELLS` cells over all
its dropdown entries (axes are thinned, then combinations of the other parameters are
sampled) and a scatter at most `MAX_POINTS` portfolios; captions say when that happened.
"""

from __future__ import annotations

import math
from typing import Any

from stress.output.report import figures as F
from stress.output.report.fmt import QUOTE, label, mode_colour

MAX_CELLS = 4000
"""Heat-map cells per panel, over every dropdown entry (a cell costs about 30 bytes)."""
MAX_SLICES = 60
"""Dropdown entries at most: combinations of the parameters not on the axes."""
MAX_POINTS = 1500
"""Portfolios in a scatter at most (a sample, every frontier point kept)."""
MAX_SCATTER_PARAMS = 4
HEIGHT = 430
SHORT = {"isolated": "iso", "cross": "cross", "as_configured": "as cfg"}

# light to dark: low risk reads as pale, high risk as dark, in print and in grey
P_SCALE = [[0, "#fff7ec"], [0.25, "#fdd49e"], [0.5, "#fc8d59"], [0.75, "#d7301f"], [1, "#7f0000"]]
ES_SCALE = [[0, "#fcfbfd"], [0.25, "#dadaeb"], [0.5, "#9e9ac8"], [0.75, "#6a51a3"], [1, "#3f007d"]]


# ---------------------------------------------------------------------------------------------
# Values and names


def param_title(name: str) -> str:
    """A parameter as an axis title, with its unit (escaped for plotly)."""
    kind, _, pid = name.partition(".")
    units = {
        "leverage": "×",
        "notional": "USDT" if pid else "USDT, gross",
        "wallet": "USDT",
        "isolated_share": "share of the wallet",
        "weight": "share of the gross notional",
    }
    unit = units.get(kind)
    return label(f"{name} ({unit})" if unit else name)


def value_text(value: Any) -> str:
    return f"{value:,.6g}" if isinstance(value, int | float) else str(value)


def short_text(value: Any) -> str:
    """A tick label: round thousands and millions as 40k and 1.5M, anything else in full."""
    if isinstance(value, int | float) and abs(value) >= 10_000:
        for unit, scale in (("M", 1e6), ("k", 1e3)):
            if abs(value) >= scale and value % (scale / 10) == 0:
                return f"{value / scale:,g}{unit}"
    return value_text(value)


def template_text(text: str) -> str:
    """User text inside a hovertemplate: escaped, and no ``%{`` for plotly to substitute."""
    return label(text).replace("%{", "%\u200b{")


def es_unit(ports: list[dict[str, Any]]) -> tuple[bool, str]:
    """(as a share of the wallet?, unit text): USDT when every wallet is the same."""
    share = len({p["wallet"] for p in ports}) > 1
    return share, ("% of the wallet" if share else QUOTE)


def metric_value(port: dict[str, Any], mode: str, metric: str, share: bool) -> float | None:
    """What a figure plots: P(liquidation) in %, ES 99 % in USDT or in % of the wallet."""
    m = port["modes"].get(mode)
    if m is None or m.get(metric) is None:
        return None
    if metric == "p_liquidation":
        return 100.0 * m["p_liquidation"]
    if share:
        return 100.0 * m["es_99"] / port["wallet"] if port["wallet"] > 0 else None
    return m["es_99"]


def metric_text(metric: str, share: bool) -> tuple[str, str, str]:
    """(name, colour-bar / axis title, hover number format) of a plotted metric."""
    if metric == "p_liquidation":
        return "liquidation probability", "P(liquidation) (%)", "%{z:.2f} %"
    if share:
        return "ES 99 %", "ES 99 % (% of the wallet)", "%{z:.1f} % of the wallet"
    return "ES 99 %", f"ES 99 % ({QUOTE})", "%{z:,.2f} " + QUOTE


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def unit_phrase(metric: str, share: bool) -> str:
    """The unit of a plotted metric, as a caption says it."""
    if metric == "p_liquidation":
        return "in % of paths"
    return "as % of the wallet" if share else f"in {QUOTE}"


def _sorted_values(values: list[Any]) -> list[Any]:
    """Distinct values: numbers ascending, anything else in order of first appearance."""
    distinct = list(dict.fromkeys(values))
    if all(isinstance(v, int | float) for v in distinct):
        return sorted(distinct)
    return distinct


def _determines(ports: list[dict], a: str, b: str) -> bool:
    """Whether parameter `a` fixes `b` (weight.<id> columns of one weights vector do)."""
    seen: dict[Any, Any] = {}
    for p in ports:
        va, vb = p["params"].get(a), p["params"].get(b)
        if seen.setdefault(va, vb) != vb:
            return False
    return True


def choose_axes(ports: list[dict], params: list[str]) -> tuple[str, str | None, list[str]]:
    """(x, y, others): the two crossed parameters with the most distinct values and the ones
    that vary independently of them (held at one combination per dropdown entry). y is None
    when no second parameter varies independently of x."""
    counts = {p: len({port["params"].get(p) for port in ports}) for p in params}
    ranked = sorted((p for p in params if counts[p] > 1), key=lambda p: -counts[p])
    if not ranked:
        return params[0], None, []
    x = ranked[0]
    y = next((p for p in ranked[1:] if not _determines(ports, x, p)), None)
    axes = [a for a in (x, y) if a is not None]
    others = [
        p for p in ranked if p not in axes and not any(_determines(ports, a, p) for a in axes)
    ]
    # numbers read best across; a categorical parameter (a side) goes on the y axis
    if y is not None and not isinstance(ports[0]["params"].get(x), int | float):
        x, y = y, x
    return x, y, others


def evenly(items: list, n: int, keep: int = 0) -> list:
    """`n` items spread evenly over the list, always including item `keep`."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    picked = [int(i * step) for i in range(n)]
    if keep not in picked:  # swap the nearest pick for it: still n items
        nearest = min(range(n), key=lambda j: abs(picked[j] - keep))
        picked[nearest] = keep
    return [items[i] for i in sorted(picked)]


# ---------------------------------------------------------------------------------------------
# The grid: slices of two axes, with the other parameters held


class Grid:
    """The sweep's portfolios arranged as (slice, y, x) cells.

    Parameters
    ----------
    ports : summary.json's portfolios, each with ``params``
    x, y : the parameters across and up
    others : the parameters held at one combination of values per slice (dropdown entry)

    Attributes
    ----------
    xs, ys : the axis values shown, numbers ascending (every k-th one for a huge grid)
    slices : the combinations of ``others`` shown, each a tuple in ``others`` order
    default : the slice the figures open on
    cell : ``cell[s][iy][ix]``, the portfolio index at that point, or None where the point
        was dropped; shape (slices, len(ys), len(xs))
    """

    def __init__(self, ports: list[dict], x: str, y: str, others: list[str]):
        self.x, self.y, self.others = x, y, others
        xs = _sorted_values([p["params"].get(x) for p in ports])
        ys = _sorted_values([p["params"].get(y) for p in ports])
        # a huge grid: every k-th value of each axis
        k = max(1, math.ceil(math.sqrt(len(xs) * len(ys) / MAX_CELLS)))
        self.thinned = k > 1
        self.xs, self.ys = xs[::k], ys[::k]
        where_x = {v: i for i, v in enumerate(self.xs)}
        where_y = {v: i for i, v in enumerate(self.ys)}
        groups: dict[tuple, list[int]] = {}
        for i, p in enumerate(ports):
            groups.setdefault(tuple(p["params"].get(o) for o in others), []).append(i)
        keys = list(groups)
        self.n_combinations = len(keys)
        per_slice = len(self.xs) * len(self.ys)
        limit = max(1, min(MAX_SLICES, MAX_CELLS // per_slice))

        # open on a combination where the recommended mode changes most (then the fullest)
        def interest(j: int) -> tuple[int, int, int]:
            members = groups[keys[j]]
            recs = {(ports[i].get("verdict") or {}).get("recommended") for i in members}
            return len(recs), len(members), -j

        opening = max(range(len(keys)), key=interest)
        self.slices = evenly(keys, limit, opening)
        self.default = self.slices.index(keys[opening])
        self.cell: list[list[list[int | None]]] = []
        for key in self.slices:
            cells: list[list[int | None]] = [[None] * len(self.xs) for _ in self.ys]
            for i in groups[key]:
                ix = where_x.get(ports[i]["params"].get(x))
                iy = where_y.get(ports[i]["params"].get(y))
                if ix is not None and iy is not None and cells[iy][ix] is None:
                    cells[iy][ix] = i
            self.cell.append(cells)

    def slice_text(self, s: int) -> str:
        return " · ".join(
            f"{o} {value_text(v)}" for o, v in zip(self.others, self.slices[s], strict=True)
        )

    def tick_labels(self) -> tuple[list[str], list[str]]:
        return [label(value_text(v)) for v in self.xs], [label(value_text(v)) for v in self.ys]

    def category_axis(self, which: str) -> dict[str, Any]:
        """A category axis with short tick texts (40k for 40,000): the hover keeps the full."""
        values = self.xs if which == "x" else self.ys
        return {
            "type": "category",
            "showgrid": False,
            "automargin": True,
            "tickvals": [label(value_text(v)) for v in values],
            "ticktext": [label(short_text(v)) for v in values],
        }

    def sampled_text(self) -> str:
        """What the caption must admit: thinned axes or sampled combinations ('' if neither)."""
        parts = []
        if self.thinned:
            parts.append("every few values of each axis are shown (the grid is large)")
        if len(self.slices) < self.n_combinations:
            parts.append(
                f"{len(self.slices)} of the {self.n_combinations:,} combinations of "
                f"{', '.join(self.others)} are in the menu"
            )
        return f" To keep the page light, {' and '.join(parts)}." if parts else ""


def _panel_layout(
    title: str, grid: Grid, modes: list[str], height: int = HEIGHT, relayout: list | None = None
) -> dict:
    """One panel per mode, side by side, sharing the y axis; a dropdown for the slices."""
    layout = F.base_layout(title, param_title(grid.x), param_title(grid.y), height=height)
    layout["margin"] = {"l": 90, "r": 24, "t": 96, "b": 56}
    n, gap, right = len(modes), 0.035, 0.9
    width = (right - gap * (n - 1)) / n
    annotations = []
    for j, mode in enumerate(modes):
        axis = "xaxis" if j == 0 else f"xaxis{j + 1}"
        lo = j * (width + gap)
        layout[axis] = {
            **layout["xaxis"],
            "domain": [lo, lo + width],
            "anchor": "y",
            **grid.category_axis("x"),
            "title": {"text": param_title(grid.x)},
        }
        annotations.append(
            {
                "text": f"<b>{label(mode)}</b>",
                "x": lo + width / 2,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"color": mode_colour(mode), "size": 13},
            }
        )
    layout["yaxis"].update(grid.category_axis("y"))
    layout["annotations"] = annotations
    _add_menu(layout, grid, n_traces_per_slice=n, height=height, relayout=relayout)
    return layout


def _add_menu(
    layout: dict, grid: Grid, n_traces_per_slice: int, height: int, relayout: list | None = None
) -> None:
    """The dropdown over combinations of the other parameters (none when there is one), in
    its own row under the title; `relayout` holds a layout update per slice (its colour
    scale)."""
    if len(grid.slices) < 2:
        return
    n = len(grid.slices) * n_traces_per_slice
    buttons = []
    for s in range(len(grid.slices)):
        visible = [s * n_traces_per_slice <= t < (s + 1) * n_traces_per_slice for t in range(n)]
        args: list = [{"visible": visible}]
        if relayout is not None:
            args.append(relayout[s])
        buttons.append(
            {
                "label": label(grid.slice_text(s)),
                "method": "update" if relayout is not None else "restyle",
                "args": args,
            }
        )
    plot_h = height - layout["margin"]["t"] - layout["margin"]["b"]
    y = 1.0 + (layout["margin"]["t"] - 36) / plot_h
    layout["updatemenus"] = [
        {
            "type": "dropdown",
            "buttons": buttons,
            "active": grid.default,
            "x": 0.0,
            "xanchor": "left",
            "y": y,
            "yanchor": "top",
            "bgcolor": "#ffffff",
            "bordercolor": "#9aa5b1",
            "font": {"size": 12},
            "pad": {"r": 0, "t": 0, "l": 0, "b": 0},
        }
    ]


def _hover_head(grid: Grid, s: int) -> str:
    held = f"<br>{template_text(grid.slice_text(s))}" if grid.others else ""
    axes = f"{template_text(grid.x)} %{{x}} · {template_text(grid.y)} %{{y}}"
    return f"%{{customdata}}<br>{axes}{held}<br>"


def metric_heatmap(
    ports: list[dict], grid: Grid, modes: list[str], metric: str, share: bool
) -> F.Figure:
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
                    "hovertemplate": _hover_head(grid, s)
                    + f"{name} {number}<extra>{label(mode)}</extra>",
                }
            )
        tops.append(top or 1.0)
    title = f"{name[0].upper()}{name[1:]} by {grid.x} and {grid.y}, per mode"
    relayout = [{"coloraxis.cmax": t} for t in tops]
    layout = _panel_layout(title, grid, modes, relayout=relayout)
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
    return F.Figure(f"sweep-{metric}", title, caption, data, layout, group="wide")


def best_mode_map(ports: list[dict], grid: Grid, modes: list[str]) -> F.Figure:
    """The recommended mode at every point, in the mode colours; the choice flips where the
    colour changes."""
    xt, yt = grid.tick_labels()
    n = len(modes)
    # stepped colour scale: value j (the j-th mode) is drawn in that mode's colour
    scale = []
    for j, mode in enumerate(modes):
        scale += [[j / n, mode_colour(mode)], [(j + 1) / n, mode_colour(mode)]]
    show_text = len(grid.xs) <= 16 and len(grid.ys) <= 24
    data = []
    for s, cells in enumerate(grid.cell):
        rec = [
            [None if i is None else (ports[i].get("verdict") or {}).get("recommended") for i in row]
            for row in cells
        ]
        trace = {
            "type": "heatmap",
            "x": xt,
            "y": yt,
            "z": [[modes.index(r) if r in modes else None for r in row] for row in rec],
            "customdata": [
                [
                    ["", ""] if i is None else [label(ports[i]["name"]), r]
                    for i, r in zip(a, b, strict=True)
                ]
                for a, b in zip(cells, rec, strict=True)
            ],
            "zmin": -0.5,
            "zmax": n - 0.5,
            "colorscale": scale,
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
            "hovertemplate": _hover_head(grid, s).replace("%{customdata}", "%{customdata[0]}")
            + "recommended: <b>%{customdata[1]}</b><extra></extra>",
        }
        if show_text:
            trace["text"] = [[SHORT.get(r, "") if r else "" for r in row] for row in rec]
            trace["texttemplate"] = "%{text}"
            trace["textfont"] = {"size": 10, "color": "#ffffff"}
        data.append(trace)
    title = f"Recommended mode by {grid.x} and {grid.y}"
    layout = F.base_layout(title, param_title(grid.x), param_title(grid.y), height=HEIGHT)
    layout["margin"] = {"l": 90, "r": 24, "t": 96, "b": 56}
    layout["xaxis"].update(grid.category_axis("x"))
    layout["yaxis"].update(grid.category_axis("y"))
    layout["annotations"] = []
    _add_menu(layout, grid, n_traces_per_slice=1, height=HEIGHT)
    counts = {m: 0 for m in modes}
    for p in ports:
        r = (p.get("verdict") or {}).get("recommended")
        if r in counts:
            counts[r] += 1
    tally = ", ".join(f"{m} at {c:,}" for m, c in counts.items() if c)
    objective = (ports[0].get("verdict") or {}).get("objective", "es_99")
    judged = {"es_99": "ES 99 %", "p_liquidation": "liquidation probability"}.get(
        objective, "expected loss"
    )
    caption = (
        f"The mode the verdict recommends at each point (best {judged}, ties to the lower "
        f"liquidation probability), in the mode colours: the choice flips where the colour "
        f"changes. Over the whole sweep: {tally} of {len(ports):,} portfolios."
        + grid.sampled_text()
    )
    return F.Figure("sweep-best-mode", title, caption, data, layout, group="small")
