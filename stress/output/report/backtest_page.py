"""The page of `stress backtest --report FILE.html`: how the one-day forecasts fared.

One self-contained page like the run's report (`stress.output.report.html`): plotly.js inlined
once, each figure as inline JSON. A reliability diagram per model (each position's decile bins:
mean forecast against realised frequency with its 95 % interval, and the diagonal where a
calibrated forecast lies), the ratio of mean forecast to realised frequency per position and
model on a log scale with the x1.3 band, and the tables of the ``--json`` structure it is
rendered from.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from stress.output.report.figure import Figure, base_layout
from stress.output.report.fmt import label, pct, pct_interval, script_json, sig
from stress.output.report.html import PLOTLY_CONFIG, plotly_js
from stress.version import __version__

ENV = Environment(
    loader=PackageLoader("stress.output.report", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _missing(x: Any) -> bool:
    return x is None or x != x


def ratio(x: float | None) -> str:
    """``x1.05``; ``n/a`` when nothing happened."""
    return "n/a" if _missing(x) else f"x{x:.2f}"


def num(x: float | None, digits: int = 3) -> str:
    return "n/a" if _missing(x) else f"{x:,.{digits}f}"


def signed(x: float | None) -> str:
    return "n/a" if _missing(x) else f"{x:+.3f}"


def pval(x: float | None) -> str:
    """A p-value: two significant digits, ``<0.0001`` below that."""
    if _missing(x):
        return "n/a"
    return "<0.0001" if x < 1e-4 else f"{x:.2g}"


ENV.filters.update(pct=pct, ratio=ratio, num=num, signed=signed, pval=pval)

COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
"""Okabe-Ito, one per position (cycled)."""
BAND = 1.3
"""The aim: a mean forecast within this factor of the realised frequency."""
WHAT = {"wicks": "the bars' lows and highs (wicks)", "closes": "hourly closes only"}


def _colour(j: int) -> str:
    return COLOURS[j % len(COLOURS)]


def _bins_trace(j: int, pos: dict[str, Any], model: str) -> dict[str, Any]:
    rows = pos["forecasts"][model]["reliability"]
    real = [100 * r["realised"] for r in rows]
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": label(pos["name"]),
        "legendgroup": label(pos["name"]),
        "x": sig([100 * r["mean_predicted"] for r in rows], 4),
        "y": sig(real, 4),
        "customdata": [[r["days"], pct_interval(r["ci"], 1)] for r in rows],
        "hovertemplate": "forecast %{x:.1f} %<br>realised %{y:.1f} % (%{customdata[1]})"
        "<br>%{customdata[0]} days<extra>" + label(pos["name"]) + "</extra>",
        "marker": {"color": _colour(j), "size": 7},
        "line": {"color": _colour(j), "width": 1},
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": sig([100 * r["ci"][1] - y for r, y in zip(rows, real, strict=True)], 4),
            "arrayminus": sig([y - 100 * r["ci"][0] for r, y in zip(rows, real, strict=True)], 4),
            "thickness": 1,
            "width": 2,
        },
    }


def reliability_figure(data: dict[str, Any], model: str) -> Figure:
    """One model's reliability diagram: every position's decile bins and the diagonal."""
    top = max(
        [100 * r["ci"][1] for p in data["positions"] for r in p["forecasts"][model]["reliability"]]
        + [100 * r["high"] for p in data["positions"] for r in p["forecasts"][model]["reliability"]]
    )
    top = min(100.0, max(5.0, 1.05 * top))
    diagonal = {
        "type": "scatter",
        "mode": "lines",
        "name": "calibrated",
        "x": [0, top],
        "y": [0, top],
        "line": {"color": "#9aa5b1", "dash": "dash", "width": 1},
        "hoverinfo": "skip",
        "showlegend": False,
    }
    traces = [diagonal] + [_bins_trace(j, pos, model) for j, pos in enumerate(data["positions"])]
    layout = base_layout(
        f"{model}: reliability", "mean forecast P(liq) (%)", "realised frequency (%)"
    )
    layout["xaxis"]["range"] = [0, top]
    layout["yaxis"]["range"] = [0, top]
    # a legend of six positions does not fit above a third-width plot: it goes below
    layout["legend"] |= {"y": -0.2, "yanchor": "top"}
    layout["height"] = 460
    layout["margin"] = layout["margin"] | {"t": 48, "b": 130}
    caption = (
        f"Days binned by the deciles of {model}'s forecast, per position: the bin's mean "
        "forecast against how often the position was liquidated (bars: 95 % Wilson interval). "
        "A calibrated forecast lies on the dashed diagonal."
    )
    return Figure(f"reliability-{model}", f"{model}: reliability", caption, traces, layout)


def ratio_figure(data: dict[str, Any]) -> Figure:
    """Mean forecast / realised frequency per position and model, log scale, x1.3 band."""
    names = [p["name"] for p in data["positions"]]
    traces = []
    for k, model in enumerate(data["models"]):
        ratios = [p["forecasts"][model]["ratio"] for p in data["positions"]]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": label(model),
                "x": [label(n) for n in names],
                "y": sig([float("nan") if r is None else r for r in ratios], 4),
                "marker": {"color": _colour(k), "size": 10, "symbol": "diamond"},
                "hovertemplate": "%{x}: x%{y:.2f}<extra>" + label(model) + "</extra>",
            }
        )
    layout = base_layout(
        "Mean forecast over realised frequency", "position", "forecast / realised (log scale)"
    )
    ticks = [0.1, 0.2, 0.5, 1 / BAND, 1.0, BAND, 2.0, 5.0, 10.0]
    layout["yaxis"] |= {"type": "log", "tickvals": ticks, "ticktext": [f"{t:.2g}" for t in ticks]}
    layout["shapes"] = [
        {
            "type": "rect",
            "xref": "paper",
            "yref": "y",
            "x0": 0,
            "x1": 1,
            "y0": 1 / BAND,
            "y1": BAND,
            "fillcolor": "rgba(11,110,79,0.10)",
            "line": {"width": 0},
        }
    ]
    caption = (
        "Each model's mean one-day forecast divided by the realised frequency; 1 is exact, the "
        f"shaded band is within x{BAND:g} either way."
    )
    return Figure("ratio-figure", "forecast over realised", caption, traces, layout, "wide")


def render_backtest(data: dict[str, Any]) -> str:
    """The page as a string, from the ``--json`` structure (NaN already null)."""
    figures = [ratio_figure(data)] + [reliability_figure(data, m) for m in data["models"]]
    return ENV.get_template("backtest.html").render(
        run=data,
        realised_what=WHAT[data["realised_from"]],
        other={"wicks": "closes", "closes": "wicks"}[data["realised_from"]],
        figures=figures,
        figure_json=[(f.key, script_json(f.spec())) for f in figures],
        plotly_config=script_json(PLOTLY_CONFIG),
        plotly_js=plotly_js(),
        band=BAND,
        version=__version__,
    )
