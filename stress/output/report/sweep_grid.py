"""A grid sweep arranged for heat maps: two parameters as axes, combinations of the others as
the entries of a dropdown, and the panels and dropdown every heat map shares.

Sizes are bounded whatever the sweep: a heat map panel holds at most `MAX_CELLS` cells over all
its dropdown entries (axes are thinned, then combinations of the other parameters are sampled);
captions say when that happened (`Grid.sampled_text`).
"""

from __future__ import annotations

import math
from typing import Any

from stress.output.report.figure import base_layout
from stress.output.report.fmt import label, mode_colour
from stress.output.report.sweep_values import (
    HEIGHT,
    evenly,
    param_title,
    short_text,
    template_text,
    value_text,
)

MAX_CELLS = 4000
"""Heat-map cells per panel, over every dropdown entry (a cell costs about 30 bytes)."""
MAX_SLICES = 60
"""Dropdown entries at most: combinations of the parameters not on the axes."""


def _sorted_values(values: list[Any]) -> list[Any]:
    """Distinct values: numbers ascending, anything else in order of first appearance."""
    distinct = list(dict.fromkeys(values))
    if all(isinstance(v, int | float) for v in distinct):
        return sorted(distinct)
    return distinct


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


def panel_layout(
    title: str, grid: Grid, modes: list[str], height: int = HEIGHT, relayout: list | None = None
) -> dict:
    """One panel per mode, side by side, sharing the y axis; a dropdown for the slices."""
    layout = base_layout(title, param_title(grid.x), param_title(grid.y), height=height)
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
    add_menu(layout, grid, n_traces_per_slice=n, height=height, relayout=relayout)
    return layout


def add_menu(
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


def hover_head(grid: Grid, s: int) -> str:
    """The start of a cell's hover text in slice `s`: the portfolio's name (as ``customdata``),
    its place on the axes and the values the other parameters are held at."""
    held = f"<br>{template_text(grid.slice_text(s))}" if grid.others else ""
    axes = f"{template_text(grid.x)} %{{x}} · {template_text(grid.y)} %{{y}}"
    return f"%{{customdata}}<br>{axes}{held}<br>"
