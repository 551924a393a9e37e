"""Runs with many portfolios (a list or a sweep): one risk map and a sortable table of every
(portfolio, mode), and the sentence that says which few portfolios get detail figures.

The page must stay a page for a sweep of 100,000 portfolios: detail figures are capped at
`stress.analysis.detail.MAX_DETAIL` portfolios (the run chooses them) and the table at
`MAX_TABLE` portfolios (the riskiest by the same ranking, when there are more; summary.json and
results.parquet keep every one). A table row costs about 250 bytes, so the page stays under
10 MB whatever the sweep size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stress.analysis import detail
from stress.output.report.figure import Figure, base_layout
from stress.output.report.fmt import label, mode_colour, money, pct
from stress.output.report.portfolio import ordered_modes

MAX_TABLE = 2000
_SYMBOLS = {"isolated": "circle", "cross": "square-open", "as_configured": "diamond-open"}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    numeric: bool  # sorts as a number (largest first on the first click)
    tip: str


METRIC_COLUMNS = (
    Column("p_liquidation", "P(liquidation)", True, "share of paths with at least one liquidation"),
    Column("p_liquidation_ci", "95 % interval (%)", True, "Wilson interval of P(liquidation)"),
    Column("p_ruin", "P(ruin)", True, "share of paths ending with at most 1 % of the wallet"),
    Column("expected_loss", "E(loss) (USDT)", True, "mean loss over all paths"),
    Column("var_99", "VaR 99 % (USDT)", True, "1 % of paths lose more than this"),
    Column("es_99", "ES 99 % (USDT)", True, "mean loss of the worst 1 % of paths"),
    Column("es_99_share", "ES 99 % / wallet", True, "ES 99 % as a share of the wallet"),
    Column("bad_debt_mean", "bad debt (USDT)", True, "mean bad debt per path"),
)


def risk_score(port: dict[str, Any]) -> tuple[float, float]:
    """`stress.analysis.detail.risk_score` of a summary.json portfolio: worst ES 99 % share of
    the wallet, then worst P(liquidation), over its modes."""
    return detail.risk_score(port.get("wallet"), port["modes"].values())


def riskiest(portfolios: list[dict[str, Any]], limit: int) -> list[int]:
    """Indices of the `limit` riskiest summary.json portfolios by `risk_score`, in config order
    (`stress.analysis.detail.riskiest`)."""
    return detail.riskiest([risk_score(p) for p in portfolios], limit)


def detail_reason(portfolios: list[dict[str, Any]], chosen: list[int]) -> str | None:
    """The sentence that tells the reader which portfolios are detailed and why."""
    if len(chosen) == len(portfolios):
        return None
    parts = []
    for i in sorted(chosen, key=lambda i: risk_score(portfolios[i]), reverse=True):
        es_share, p_liq = risk_score(portfolios[i])
        parts.append(
            f"{portfolios[i]['name']} (ES 99 % up to {pct(es_share, 0)} of the wallet, "
            f"P(liquidation) up to {pct(p_liq, 1)})"
        )
    return (
        f"Detail figures are shown for the {len(chosen)} riskiest of {len(portfolios):,} "
        "portfolios, ranked by their largest ES 99 % as a share of the wallet in any mode, then "
        f"by their highest liquidation probability: {'; '.join(parts)}."
    )


def table_reason(portfolios: list[dict[str, Any]], shown: list[int]) -> str:
    if len(shown) == len(portfolios):
        return "Every portfolio and mode is in the table; click a column header to sort."
    return (
        f"The table lists the {len(shown):,} riskiest of {len(portfolios):,} portfolios (same "
        "ranking) to keep this page light; summary.json and results.parquet hold every one. "
        "Click a column header to sort."
    )


def param_text(value: Any) -> str:
    return f"{value:,g}" if isinstance(value, int | float) else str(value)


def columns(portfolios: list[dict[str, Any]], shown: list[int]) -> list[Column]:
    """Portfolio, its sweep parameters, mode, the wallet when it varies, then the metrics."""
    params: dict[str, bool] = {}
    for i in shown:
        for key, value in (portfolios[i].get("params") or {}).items():
            params[key] = params.get(key, True) and isinstance(value, int | float)
    cols = [Column("portfolio", "portfolio", False, "portfolio name")]
    cols += [Column(f"param:{k}", k, numeric, "sweep parameter") for k, numeric in params.items()]
    cols.append(Column("mode", "mode", False, "margin mode; the tag marks the recommended one"))
    if len({portfolios[i]["wallet"] for i in shown}) > 1:
        cols.append(Column("wallet", "wallet (USDT)", True, "starting wallet"))
    return cols + list(METRIC_COLUMNS)


def _interval(ci: list[float | None]) -> str:
    if ci[0] is None or ci[1] is None:
        return "n/a"
    return f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}"


def table_rows(
    portfolios: list[dict[str, Any]], shown: list[int], chosen: list[int], cols: list[Column]
) -> list[dict[str, Any]]:
    """Every shown (portfolio, mode): displayed cell texts in `cols` order, plus a link to the
    portfolio's detail section when it has one. The page's script sorts on these texts."""
    detailed = set(chosen)
    rows = []
    for i in shown:
        port = portfolios[i]
        recommended = (port.get("verdict") or {}).get("recommended")
        wallet = float(port.get("wallet") or 0.0)
        params = port.get("params") or {}
        for mode in ordered_modes(port["modes"]):
            m = port["modes"][mode]
            share = m["es_99"] / wallet if wallet > 0 else None
            values = {
                "portfolio": port["name"],
                "mode": mode,
                "wallet": money(wallet, 0),
                "p_liquidation": pct(m["p_liquidation"]),
                "p_liquidation_ci": _interval(m.get("p_liquidation_ci") or [None, None]),
                "p_ruin": pct(m["p_ruin"]),
                "expected_loss": money(m["expected_loss"]),
                "var_99": money(m["var_99"]),
                "es_99": money(m["es_99"]),
                "es_99_share": pct(share, 1),
                "bad_debt_mean": money(m["bad_debt_mean"]),
            }
            for key, value in params.items():
                values[f"param:{key}"] = param_text(value)
            rows.append(
                {
                    "anchor": f"portfolio-{i}" if i in detailed else None,
                    "mode": mode,
                    "recommended": mode == recommended,
                    "cells": [values.get(c.key, "") for c in cols],
                }
            )
    return rows


def risk_map(portfolios: list[dict[str, Any]], shown: list[int], n_paths: int) -> Figure:
    """Every shown (portfolio, mode) as a point: liquidation probability against ES 99 % as a
    share of the wallet. Bottom left is safe on both counts."""
    by_mode: dict[str, dict[str, list]] = {}
    for i in shown:
        port = portfolios[i]
        wallet = float(port.get("wallet") or 0.0)
        for mode in ordered_modes(port["modes"]):
            m = port["modes"][mode]
            series = by_mode.setdefault(mode, {"x": [], "y": [], "text": []})
            series["x"].append(round(100 * m["p_liquidation"], 4))
            series["y"].append(round(100 * m["es_99"] / wallet, 3) if wallet > 0 else None)
            series["text"].append(label(port["name"]))
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": mode,
            "x": s["x"],
            "y": s["y"],
            "text": s["text"],
            # open and filled shapes: modes with the same numbers stay visible on top of
            # each other (as_configured often equals cross)
            "marker": {
                "color": mode_colour(mode),
                "size": 8,
                "opacity": 0.75,
                "symbol": _SYMBOLS.get(mode, "circle"),
                "line": {"width": 1.5, "color": mode_colour(mode)},
            },
            "hovertemplate": "%{text}<br>P(liquidation) %{x:.2f} %<br>ES 99 % %{y:.1f} % of "
            "wallet<extra>%{fullData.name}</extra>",
        }
        for mode, s in sorted(by_mode.items(), key=lambda kv: ordered_modes(by_mode).index(kv[0]))
    ]
    title = "Risk map: every portfolio in every mode"
    layout = base_layout(title, "liquidation probability (%)", "ES 99 % (% of the wallet)")
    layout["xaxis"].update(ticksuffix=" %", rangemode="tozero")
    layout["yaxis"].update(ticksuffix=" %", rangemode="tozero")
    layout["hovermode"] = "closest"
    caption = (
        f"Each point is one portfolio under one margin mode ({n_paths:,} paths each): further "
        "right it is liquidated more often, higher up its worst 1 % of outcomes cost more of the "
        "wallet; hover for the portfolio's name."
    )
    return Figure("overview-map", title, caption, data, layout, group="wide")
