"""The page of `stress optimise --report FILE.html`: the pick and the frontier.

One self-contained page like the run's report (`stress.output.report.html`): plotly.js inlined
once, the figure as inline JSON, the same style sheet and scripts. The frontier figure is every
candidate's liquidation probability against its ES99, all on the same paths, with the risk
capital as a line: what fits lies left of it, and the pick is the lowest point there.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from stress.output.optimise_table import arrangement_text
from stress.output.report.figure import Figure, base_layout
from stress.output.report.fmt import label, mode_colour, money, pct, pct_interval, script_json
from stress.output.report.html import PLOTLY_CONFIG, plotly_js
from stress.version import __version__

ENV = Environment(
    loader=PackageLoader("stress.output.report", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(money=money, pct=pct)

GREY = "#9aa5b1"
BEST = "#0b6e4f"
TIED = "#c98a00"
LIMIT = "#b42318"

HOVER = (
    "%{customdata[0]}<br>%{customdata[1]}<br>P(liquidation) %{y:.2f} % "
    "(%{customdata[2]})<br>ES 99 % %{x:,.2f} USDT<extra></extra>"
)


def _trace(name: str, entries: list[dict], marker: dict[str, Any], **extra: Any) -> dict:
    """One scatter trace of candidates: x ES99, y P(liq) in %, the interval as error bars when
    asked for (``errors=True``)."""
    errors = extra.pop("errors", False)
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "markers",
        "name": label(name),
        "x": [e["es_99"] for e in entries],
        "y": [100 * e["p_liquidation"] for e in entries],
        "customdata": [
            [label(e["name"]), label(arrangement_text(e)), pct_interval(e["p_liquidation_ci"])]
            for e in entries
        ],
        "hovertemplate": HOVER,
        "marker": marker,
        **extra,
    }
    if errors:
        trace["error_y"] = {
            "type": "data",
            "symmetric": False,
            "array": [100 * (e["p_liquidation_ci"][1] - e["p_liquidation"]) for e in entries],
            "arrayminus": [100 * (e["p_liquidation"] - e["p_liquidation_ci"][0]) for e in entries],
            "thickness": 1.2,
            "width": 3,
        }
    return trace


def _highlighted(data: dict[str, Any]) -> list[dict]:
    """The pure modes, the config as written, the candidates tied with the best, the best."""
    traces = []
    refs = [
        ("pure cross", data["pure_modes"]["cross"], mode_colour("cross")),
        ("pure isolated", data["pure_modes"]["isolated"], mode_colour("isolated")),
        ("as configured", data["as_configured"], mode_colour("as_configured")),
    ]
    for name, entry, colour in refs:
        if entry is not None:  # the config often is a pure mode: an open marker shows both
            symbol, size = ("diamond-open", 18) if name == "as configured" else ("diamond", 12)
            marker = {"color": colour, "size": size, "symbol": symbol, "line": {"width": 2}}
            traces.append(_trace(name, [entry], marker, errors=True))
    if data["tied"]:
        marker = {"color": TIED, "size": 10, "symbol": "circle", "line": {"width": 1}}
        traces.append(_trace("tied with the best", data["tied"], marker, errors=True))
    if data["best"] is not None:
        marker = {"color": BEST, "size": 16, "symbol": "star", "line": {"width": 1}}
        traces.append(_trace("best", [data["best"]], marker, errors=True))
    return traces


def frontier_figure(data: dict[str, Any]) -> Figure:
    """Every candidate's P(liq) against ES99, the frontier, the risk capital, the pick, the
    candidates tied with it and the pure modes."""
    cands = data["candidates"]
    fits = [e for e in cands if e["fits"]]
    over = [e for e in cands if not e["fits"]]
    traces = [
        _trace("fits", fits, {"color": GREY, "size": 7, "opacity": 0.7}),
        _trace(
            "over the limit",
            over,
            {"color": GREY, "size": 7, "opacity": 0.7, "symbol": "circle-open"},
        ),
        _trace(
            "frontier",
            data["frontier"],
            {"color": "#102a43", "size": 5},
            mode="lines+markers",
            line={"color": "#102a43", "width": 1.5, "shape": "hv"},
        ),
    ]
    traces += _highlighted(data)
    rc = data["risk_capital"]
    layout = base_layout(
        "Liquidation probability against ES 99 %, every candidate",
        "ES 99 % (USDT)",
        "P(liquidation) (%)",
        height=520,
        shapes=[
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": rc,
                "x1": rc,
                "y0": 0,
                "y1": 1,
                "line": {"color": LIMIT, "width": 1.5, "dash": "dash"},
            }
        ],
        annotations=[
            {
                "x": rc,
                "xref": "x",
                "y": 1,
                "yref": "paper",
                "text": f"risk capital {rc:,.0f}",
                "showarrow": False,
                "xanchor": "right",
                "yanchor": "top",
                "font": {"color": LIMIT},
            }
        ],
    )
    caption = (
        "Each point is one arrangement, simulated on the same paths; those left of the dashed "
        "line fit the risk capital. The frontier joins the candidates no other beats on both "
        "numbers. Bars: 95 % intervals of the liquidation probability."
    )
    return Figure("frontier-figure", "frontier", caption, traces, layout, group="wide")


def _rows(entries: list[tuple[str, dict | None]], best: str | None) -> list[dict[str, Any]]:
    rows = []
    for name, e in entries:
        if e is None:
            rows.append({"label": name, "name": "", "best": False, "cells": None})
            continue
        cells = [
            pct(e["p_liquidation"]),
            pct_interval(e["p_liquidation_ci"]),
            money(e["es_99"]),
            money(e["expected_loss"]),
            pct(e["p_ruin"]),
            "yes" if e["fits"] else "no",
        ]
        rows.append(
            {
                "label": name,
                "name": e["name"],
                "best": e["name"] == best,
                "arrangement": arrangement_text(e),
                "cells": cells,
            }
        )
    return rows


def render_optimise(data: dict[str, Any], best_config: str | None = None) -> str:
    """The page as a string, from the ``--json`` structure and the chosen config's text."""
    best = None if data["best"] is None else data["best"]["name"]
    pick = [(best, data["best"])] if data["best"] is not None else []
    pick += [(f"tied: {e['name']}", e) for e in data["tied"]]
    pick += [
        ("pure cross", data["pure_modes"]["cross"]),
        ("pure isolated", data["pure_modes"]["isolated"]),
        ("as configured", data["as_configured"]),
    ]
    figure = frontier_figure(data)
    return ENV.get_template("optimise.html").render(
        run=data,
        pick_rows=_rows(pick, best),
        frontier_rows=_rows([(e["name"], e) for e in data["frontier"]], best),
        figures=[figure],
        figure_json=[(figure.key, script_json(figure.spec()))],
        plotly_config=script_json(PLOTLY_CONFIG),
        plotly_js=plotly_js(),
        best_config=best_config,
        modes=[],
        version=__version__,
    )
