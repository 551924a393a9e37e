"""A sweep's point figures: scatters for random sweeps (no grid to colour) and the trade-off
frontier of the recommended mode, plus `sweep_figures`, which picks what a sweep gets.

A grid sweep gets heat maps over two of its parameters instead of the scatters (by default the
two with the most distinct values; `stress.output.report.sweep_heatmaps`). Both get the
trade-off of the recommended mode at each point (liquidation probability against ES 99 %) with
its Pareto frontier. A scatter holds at most `MAX_POINTS` portfolios (a heat map's bound is in
`stress.output.report.sweep_grid`); captions say when that happened.
"""

from __future__ import annotations

from typing import Any

from stress.output.report import sweep_values as V
from stress.output.report.figure import Figure, base_layout
from stress.output.report.fmt import label, mode_colour, pct
from stress.output.report.portfolio import ordered_modes
from stress.output.report.sweep_grid import Grid
from stress.output.report.sweep_heatmaps import best_mode_map, metric_heatmap

MAX_POINTS = 1500
"""Portfolios in a scatter at most (a sample, every frontier point kept)."""
MAX_SCATTER_PARAMS = 4

_SYMBOLS = {"isolated": "circle", "cross": "square-open", "as_configured": "diamond-open"}


def _params_text(port: dict[str, Any]) -> str:
    return " · ".join(f"{k} {V.value_text(v)}" for k, v in (port.get("params") or {}).items())


def sample(ports: list[dict], limit: int, keep: set[int] = frozenset()) -> tuple[list[int], bool]:
    """Up to `limit` portfolio indices spread evenly over the sweep, every index in `keep`
    included; and whether that is fewer than all of them."""
    if len(ports) <= limit:
        return list(range(len(ports))), False
    return sorted(set(V.evenly(list(range(len(ports))), limit)) | set(keep)), True


def _marker(mode: str) -> dict[str, Any]:
    return {
        "color": mode_colour(mode),
        "size": 7,
        "opacity": 0.75,
        "symbol": _SYMBOLS.get(mode, "circle"),
        "line": {"width": 1.3, "color": mode_colour(mode)},
    }


def pareto(points: list[tuple[float, float, int]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (lower is better),
    ordered by the first coordinate."""
    front, best_y = [], float("inf")
    for _x, y, i in sorted(points):
        if y < best_y:
            front.append(i)
            best_y = y
    return front


def frontier(ports: list[dict], modes: list[str], share: bool) -> Figure | None:
    """Each portfolio under its recommended mode: liquidation probability against ES 99 %,
    with the portfolios no other beats on both."""
    points = []
    for i, p in enumerate(ports):
        rec = (p.get("verdict") or {}).get("recommended")
        if rec in p["modes"]:
            x = V.metric_value(p, rec, "p_liquidation", share)
            y = V.metric_value(p, rec, "es_99", share)
            if x is not None and y is not None:
                points.append((x, y, i, rec))
    if not points:
        return None
    front = pareto([(x, y, i) for x, y, i, _ in points])
    shown, sampled = sample(ports, MAX_POINTS, set(front))
    where = {i: (x, y, rec) for x, y, i, rec in points}
    _, y_title, _ = V.metric_text("es_99", share)
    y_fmt = "%{y:.1f} % of the wallet" if share else "%{y:,.2f} USDT"
    hover = "%{customdata[0]}<br>%{customdata[1]}<br>P(liquidation) %{x:.2f} %<br>ES 99 % "
    data = []
    for mode in modes:
        idx = [i for i in shown if i in where and where[i][2] == mode]
        if not idx:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"recommended {label(mode)}",
                "x": [round(where[i][0], 4) for i in idx],
                "y": [round(where[i][1], 4) for i in idx],
                "customdata": [
                    [label(ports[i]["name"]), label(_params_text(ports[i]))] for i in idx
                ],
                "marker": _marker(mode),
                "hovertemplate": hover + y_fmt + f"<extra>{label(mode)}</extra>",
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": "frontier",
            "x": [round(where[i][0], 4) for i in front],
            "y": [round(where[i][1], 4) for i in front],
            "line": {"color": "#1f2933", "width": 1.5, "shape": "hv"},
            "hoverinfo": "skip",
        }
    )
    title = "Trade-off of the recommended mode at each point"
    layout = base_layout(title, "liquidation probability (%)", y_title, height=V.HEIGHT)
    layout["xaxis"].update(ticksuffix=" %", rangemode="tozero")
    layout["yaxis"].update(rangemode="tozero")
    layout["hovermode"] = "closest"
    note = f" A sample of {len(shown):,} of {len(ports):,} portfolios is drawn." if sampled else ""
    caption = (
        "Each point is one portfolio of the sweep under the mode recommended for it; the line "
        f"joins the {len(front):,} portfolio{'s' * (len(front) != 1)} no other one beats on both "
        "liquidation probability and ES 99 % (bottom left is safest), so a point above the line "
        "takes more risk than it needs to." + note
    )
    return Figure("sweep-frontier", title, caption, data, layout, group="small")


def scatter_params(ports: list[dict], params: list[str]) -> list[str]:
    """The parameters a scatter shows: varying ones, numbers first, at most a few."""
    varying = [p for p in params if len({port["params"].get(p) for port in ports}) > 1]
    numeric = [
        p for p in varying if all(isinstance(port["params"].get(p), int | float) for port in ports)
    ]
    return (numeric or varying)[:MAX_SCATTER_PARAMS]


def metric_scatter(
    ports: list[dict], params: list[str], modes: list[str], metric: str, share: bool, lines: bool
) -> Figure:
    """`metric` against each parameter (one panel each, shared y), a colour per mode."""
    name, unit_title, _ = V.metric_text(metric, share)
    shown, sampled = sample(ports, MAX_POINTS)
    y_fmt = (
        "%{y:.2f} %"
        if metric == "p_liquidation"
        else ("%{y:.1f} % of the wallet" if share else "%{y:,.2f} USDT")
    )
    n, gap = len(params), 0.05
    width = (1.0 - gap * (n - 1)) / n
    title = f"{name[0].upper()}{name[1:]} against the swept parameters"
    layout = base_layout(
        title,
        V.param_title(params[0]),
        unit_title,
        height=V.HEIGHT,
    )
    layout["hovermode"] = "closest"
    layout["yaxis"].update(rangemode="tozero")
    data = []
    for j, param in enumerate(params):
        axis = "xaxis" if j == 0 else f"xaxis{j + 1}"
        layout[axis] = {
            **layout["xaxis"],
            "domain": [j * (width + gap), j * (width + gap) + width],
            "anchor": "y",
            "title": {"text": V.param_title(param)},
        }
        idx = [i for i in shown if ports[i]["params"].get(param) is not None]
        if lines:
            idx.sort(key=lambda i: ports[i]["params"][param])
        for mode in modes:
            pts = [(i, V.metric_value(ports[i], mode, metric, share)) for i in idx]
            pts = [(i, v) for i, v in pts if v is not None]
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers" if lines else "markers",
                    "name": label(mode),
                    "legendgroup": mode,
                    "showlegend": j == 0,
                    "x": [ports[i]["params"][param] for i, _ in pts],
                    "y": [round(v, 4) for _, v in pts],
                    "customdata": [label(ports[i]["name"]) for i, _ in pts],
                    "xaxis": "x" if j == 0 else f"x{j + 1}",
                    "yaxis": "y",
                    "marker": _marker(mode),
                    "line": {"color": mode_colour(mode), "width": 1.5},
                    "hovertemplate": f"%{{customdata}}<br>{V.template_text(param)} %{{x}}<br>"
                    f"{name} {y_fmt}<extra>{label(mode)}</extra>",
                }
            )
    note = f" A sample of {len(shown):,} of {len(ports):,} portfolios is drawn." if sampled else ""
    caption = (
        f"Each point is one portfolio of the sweep under one margin mode, placed by one of its "
        f"parameters (one panel each) and its {name} ({V.unit_phrase(metric, share)}); "
        "the other parameters vary too, so read trends, not single points." + note
    )
    return Figure(f"sweep-{metric}", title, caption, data, layout, group="wide")


def best_mode_scatter(ports: list[dict], x: str, y: str | None, modes: list[str]) -> Figure:
    """The recommended mode of each portfolio, placed by one or two parameters."""
    shown, sampled = sample(ports, MAX_POINTS)
    data = []
    for mode in modes:
        idx = [i for i in shown if (ports[i].get("verdict") or {}).get("recommended") == mode]
        if not idx:
            continue
        yv = [ports[i]["params"].get(y) for i in idx] if y else [label(mode)] * len(idx)
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": label(mode),
                "x": [ports[i]["params"].get(x) for i in idx],
                "y": yv,
                "customdata": [label(ports[i]["name"]) for i in idx],
                "marker": _marker(mode),
                "hovertemplate": f"%{{customdata}}<br>{V.template_text(x)} %{{x}}"
                + (f"<br>{V.template_text(y)} %{{y}}" if y else "")
                + f"<br>recommended: <b>{label(mode)}</b><extra></extra>",
            }
        )
    title = f"Recommended mode by {x}" + (f" and {y}" if y else "")
    y_title = V.param_title(y) if y else "recommended mode"
    layout = base_layout(title, V.param_title(x), y_title, height=V.HEIGHT)
    layout["hovermode"] = "closest"
    note = f" A sample of {len(shown):,} of {len(ports):,} portfolios is drawn." if sampled else ""
    caption = (
        "Each point is one portfolio of the sweep, coloured by the mode the verdict recommends "
        "for it: where the colours change, the choice of mode flips." + note
    )
    return Figure("sweep-best-mode", title, caption, data, layout, group="small")


def sweep_note(sweep: dict[str, Any]) -> str:
    """One sentence on what was swept and what was dropped."""
    params = " × ".join(sweep["parameters"])
    what = "grid" if sweep["kind"] == "grid" else "random sample"
    text = (
        f"This run is a {what} of {sweep['requested']:,} points over {params}; "
        f"{sweep['kept']:,} could be opened and are simulated"
    )
    if sweep["dropped"]:
        reasons = sorted(sweep["reasons"].items(), key=lambda kv: -kv[1])
        why = "; ".join(f"{r} ({c:,})" for r, c in reasons[:3])
        share = pct(sweep["dropped"] / sweep["requested"], 0)
        text += f", {sweep['dropped']:,} were dropped ({share}): {why}"
    return text + "."


def sweep_figures(data: dict[str, Any]) -> tuple[list[Figure], str | None]:
    """The figures of a sweep's overview and the sentence that introduces them.

    Parameters
    ----------
    data : the summary.json structure of a run (``sweep`` and ``portfolios``)

    Returns
    -------
    figures : list of Figure
        A grid: heat maps of liquidation probability and ES 99 %, the recommended-mode map
        and the frontier. A random sweep, or a grid with one independent parameter: the same
        as scatters. Empty for a run that is not a sweep.
    note : str or None
        What was swept and how many points were dropped, and why.
    """
    sweep = data.get("sweep")
    ports = data["portfolios"]
    if not sweep or len(ports) < 2 or not all(p.get("params") for p in ports):
        return [], None
    modes = ordered_modes({m: None for p in ports for m in p["modes"]})
    share, _ = V.es_unit(ports)
    params = list(sweep["parameters"])
    # a map of recommended modes only where some portfolio has one (a risk capital or an
    # objective decided)
    verdicts = any((p.get("verdict") or {}).get("recommended") for p in ports)
    figs: list[Figure] = []
    x, y, others = V.choose_axes(ports, params)
    if sweep["kind"] == "grid" and y is not None:
        grid = Grid(ports, x, y, others)
        figs += [metric_heatmap(ports, grid, modes, m, share) for m in ("p_liquidation", "es_99")]
        if verdicts:
            figs.append(best_mode_map(ports, grid, modes))
    else:
        shown = scatter_params(ports, params)
        lines = sweep["kind"] == "grid"
        figs += [
            metric_scatter(ports, shown, modes, m, share, lines) for m in ("p_liquidation", "es_99")
        ]
        numeric = [p for p in shown if p != shown[0]]
        if verdicts:
            y = numeric[0] if numeric else None
            figs.append(best_mode_scatter(ports, shown[0], y, modes))
    front = frontier(ports, modes, share) if verdicts else None
    if front is not None:
        figs.append(front)
    return figs, sweep_note(sweep)
