"""One portfolio's part of the report: verdict tables, positions and its detail figures.

Everything returned here is plain data for the template (strings unescaped: the template
autoescapes) plus `Figure` objects whose user strings are already escaped for plotly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from stress.analysis.metrics import wilson_bounds
from stress.output.report import series as S
from stress.output.report.fans import LiqLine, equity_fan, price_fan
from stress.output.report.figure import Figure
from stress.output.report.fmt import (
    METRIC_LABELS,
    MODE_ORDER,
    hours,
    metric_difference,
    money,
    pct,
    pct_interval,
    price,
)
from stress.output.report.liquidations import liquidation_curve, position_bars, trigger_bars
from stress.output.report.loss_distribution import loss_distribution
from stress.output.report.venue import partial_process

if TYPE_CHECKING:
    from stress.analysis.detail import TimeAxis
    from stress.pipeline.result import RunResult

VERDICT_COLUMNS = ("p_liquidation", "p_ruin", "expected_loss", "var_99", "es_99", "bad_debt_mean")


def ordered_modes(modes: dict[str, Any]) -> list[str]:
    """Modes in the house order (isolated, cross, as_configured), whatever the config said."""
    rank = {m: i for i, m in enumerate(MODE_ORDER)}
    return sorted(modes, key=lambda m: rank.get(m, len(rank)))


def _winner_sets(verdict: dict[str, Any] | None, modes: list[str]) -> dict[str, set[str]]:
    """{metric: modes marked best}; nothing is marked when every mode ties (no information)."""
    out: dict[str, set[str]] = {}
    for metric, won in ((verdict or {}).get("winners") or {}).items():
        if won is None:
            continue
        best = {won} if isinstance(won, str) else set(won)
        if best and best != set(modes):
            out[metric] = best
    return out


def _ttl_text(ttl: dict[str, float]) -> str:
    """'5.8 d (4.4–6.7 d)': median and p10-p90, the unit said once when they share it."""
    p10, p50, p90 = (hours(ttl[q]) for q in ("p10", "p50", "p90"))
    if p10[-1] == p50[-1] == p90[-1]:
        return f"{p50} ({p10[:-2]}–{p90})"
    return f"{p50} ({p10} – {p90})"


def mode_rows(port: dict[str, Any]) -> list[dict[str, Any]]:
    """The verdict table: one row per mode with the displayed cells and winner marks."""
    verdict = port.get("verdict")
    modes = ordered_modes(port["modes"])
    winners = _winner_sets(verdict, modes)
    recommended = (verdict or {}).get("recommended")
    rows = []
    for mode in modes:
        m = port["modes"][mode]
        ttl = m.get("time_to_liquidation_hours")
        ttl_text = "never liquidated" if not ttl else _ttl_text(ttl)
        cells = {
            "p_liquidation": pct(m["p_liquidation"]),
            "p_liquidation_ci": pct_interval(m.get("p_liquidation_ci")),
            "p_ruin": pct(m["p_ruin"]),
            "expected_loss": money(m["expected_loss"]),
            "var_99": money(m["var_99"]),
            "es_99": money(m["es_99"]),
            "bad_debt_mean": money(m["bad_debt_mean"]),
            "bad_debt_max": money(m.get("bad_debt_max")),
            "fees_paid_mean": money(m.get("fees_paid_mean")),
            "ttl": ttl_text,
        }
        rows.append(
            {
                "mode": mode,
                "recommended": mode == recommended,
                "cells": cells,
                "wins": {metric for metric, best in winners.items() if mode in best},
            }
        )
    return rows


def comparison_grid(verdict: dict[str, Any] | None) -> dict[str, Any] | None:
    """Paired differences as a grid: one row per metric, one column per mode compared against.

    Returns None without comparisons; else {"mode", "versus": [...], "rows": [{"metric",
    "label", "cells": [cell or None]}]} where a cell holds the formatted difference, interval,
    whether it is distinguishable and the verdict's sentence.
    """
    comps = (verdict or {}).get("comparisons") or []
    if not comps:
        return None
    versus = list(dict.fromkeys(c["versus"] for c in comps))
    metrics = list(dict.fromkeys(c["metric"] for c in comps))
    by_key = {(c["metric"], c["versus"]): c for c in comps}
    rows = []
    for metric in metrics:
        cells = []
        for other in versus:
            c = by_key.get((metric, other))
            if c is None:
                cells.append(None)
                continue
            lo, hi = (metric_difference(metric, x) for x in (c.get("ci") or (None, None)))
            cells.append(
                {
                    "difference": metric_difference(metric, c["difference"]),
                    "interval": f"{lo} to {hi}",
                    "distinguishable": bool(c.get("distinguishable")),
                    "text": c.get("text") or "",
                }
            )
        unit = "percentage points" if metric.startswith("p_") else "USDT"
        rows.append(
            {
                "metric": metric,
                "label": METRIC_LABELS.get(metric, metric),
                "unit": unit,
                "cells": cells,
            }
        )
    return {"mode": comps[0]["mode"], "versus": versus, "rows": rows}


def position_rows(result: RunResult, k_port: int, port: dict[str, Any]) -> list[dict[str, Any]]:
    """Each position's terms and, per mode, its liquidation probability and price."""
    modes = ordered_modes(port["modes"])
    rows = []
    for p in result.portfolios[k_port].positions:
        per_mode = []
        for mode in modes:
            info = port["modes"][mode]["positions"][p.id]
            per_mode.append((pct(info["p_liquidation"]), price(info["liquidation_price"])))
        rows.append(
            {
                "id": p.id,
                "asset": p.asset,
                "side": p.side,
                "quantity": f"{p.quantity:,.6g}",
                "notional": money(p.entry_notional, 0),
                "entry": price(p.entry_price),
                "leverage": f"{p.leverage:g}x",
                "margin_mode": p.margin_mode,
                "margin": money(p.margin),
                "per_mode": per_mode,
            }
        )
    return rows


def _books_of(result: RunResult, k_port: int) -> dict[str, int]:
    return {b.mode: k for k, b in enumerate(result.layout.books) if b.portfolio == k_port}


def _same_outcomes(result: RunResult, a: int, b: int) -> bool:
    """Books a and b liquidate at the same steps and end with the same equity on every kept
    path (up to summation order: the same money split into buckets differently), and agree in
    the statistics accumulated over all paths."""
    res, stats = result.results, result.stats
    if not np.array_equal(res.first_liq_step[:, a], res.first_liq_step[:, b]):
        return False
    if not np.allclose(res.final_equity[:, a], res.final_equity[:, b], rtol=0.0, atol=1e-6):
        return False
    if stats is not None:
        return bool(
            stats.n_liq[a] == stats.n_liq[b]
            and np.array_equal(stats.ttl_hist[a], stats.ttl_hist[b])
            and abs(stats.sum_loss[a] - stats.sum_loss[b]) <= 1e-6 * stats.n
        )
    return True


def identical_modes(result: RunResult, k_port: int, modes: list[str]) -> list[list[str]]:
    """Modes grouped by identical per-path outcomes (as_configured with every position cross
    is cross), so figures can say so instead of hiding one behind the other."""
    books = _books_of(result, k_port)
    groups: list[list[str]] = []
    for m in modes:
        for g in groups:
            a, b = books[g[0]], books[m]
            if _same_outcomes(result, a, b):
                g.append(m)
                break
        else:
            groups.append([m])
    return groups


def identical_note(groups: list[list[str]]) -> str | None:
    same = [g for g in groups if len(g) > 1]
    if not same:
        return None
    parts = [" and ".join(g) for g in same]
    return (
        f"{'; '.join(parts)} end every simulated path with the same equity and liquidate at "
        "the same steps: for this portfolio the choice between them makes no difference."
    )


def _liquidation_lines(
    result: RunResult, k_port: int, port: dict[str, Any], modes: list[str], asset: str
) -> list[LiqLine]:
    """The distinct liquidation prices of the portfolio's positions on `asset`, each with the
    modes it holds in, for the asset's price fan."""
    lines: dict[tuple[str, float], list[str]] = {}
    for p in result.portfolios[k_port].positions:
        if p.asset != asset:
            continue
        for mode in modes:
            info = port["modes"][mode]["positions"][p.id]
            # both sides: with jumps in maintenance a bucket can be liquidated above and
            # below the mark, and the fan shows where the paths meet either
            for side in ("liquidation_price_below", "liquidation_price_above"):
                lp = info.get(side, info["liquidation_price"])
                if lp is not None and np.isfinite(lp) and lp > 0:
                    modes_at = lines.setdefault((p.id, round(lp, 8)), [])
                    if mode not in modes_at:
                        modes_at.append(mode)
    return [(pid, ms, lp) for (pid, lp), ms in lines.items()]


def _price_figures(
    result: RunResult,
    k_port: int,
    port: dict[str, Any],
    axis: TimeAxis,
    price_bands: dict[int, np.ndarray],
) -> list[Figure]:
    """A price fan for every asset the portfolio holds, in the config's asset order."""
    modes = ordered_modes(port["modes"])
    held = {p.asset for p in result.portfolios[k_port].positions}
    n_sample = int(result.sample_prices.shape[0])
    return [
        price_fan(
            f"p{k_port}-price{a_idx}",
            asset,
            axis,
            price_bands[a_idx],
            _liquidation_lines(result, k_port, port, modes, asset),
            n_sample,
        )
        for a_idx, asset in enumerate(result.config.model.assets)
        if asset in held
    ]


def _loss_figure(result: RunResult, k_port: int, port: dict[str, Any]) -> Figure:
    """The loss distribution, one outline per group of modes with identical outcomes."""
    modes = ordered_modes(port["modes"])
    books = _books_of(result, k_port)
    groups = identical_modes(result, k_port, modes)
    edges, shares, lumped = S.loss_histogram(result, [books[g[0]] for g in groups])
    tails = {m: {t: port["modes"][m][t] for t in ("var_99", "es_99")} for m in modes}
    return loss_distribution(
        f"p{k_port}-loss",
        edges,
        list(zip(groups, shares, strict=True)),
        tails,
        result.paths,
        lumped,
    )


def _survival_figure(result: RunResult, k_port: int, modes: list[str], axis: TimeAxis) -> Figure:
    """The share of paths liquidated so far in each mode, with its Wilson band, over ALL paths."""
    books = _books_of(result, k_port)
    curves = {}
    for m in modes:
        cum, n = S.cumulative_liquidation(result, books[m])
        k = cum[axis.steps]
        # under importance sampling k is a weighted sum, not a count: no Wilson band
        lo, hi = wilson_bounds(k, n) if result.weights is None else (k / n, k / n)
        curves[m] = (k / n, lo, hi)
    return liquidation_curve(
        f"p{k_port}-survival", axis, curves, partial=partial_process(result.config)
    )


def _position_figure(
    result: RunResult, k_port: int, port: dict[str, Any], modes: list[str]
) -> Figure:
    """Each position's liquidation probability per mode, with its Wilson interval."""
    n_paths = result.paths
    ids = [p.id for p in result.portfolios[k_port].positions]
    probs = {}
    for m in modes:
        p = np.array([port["modes"][m]["positions"][i]["p_liquidation"] for i in ids])
        if result.weights is None:
            lo, hi = wilson_bounds(np.round(p * n_paths), n_paths)
        else:  # weighted estimates: no count to give Wilson's interval
            lo, hi = p, p
        probs[m] = list(zip(p, lo, hi, strict=True))
    return position_bars(f"p{k_port}-positions", ids, probs)


def _trigger_figure(
    result: RunResult, k_port: int, modes: list[str]
) -> tuple[Figure | None, list[str]]:
    """Which leg set off the cross bucket's liquidations (None when no mode had any), and
    notes on the modes with nothing to show."""
    books = _books_of(result, k_port)
    ids = [p.id for p in result.portfolios[k_port].positions]
    counts = {}
    cross_ids: list[str] = []
    quiet = []
    for m in modes:
        n_liq, by_id = S.trigger_counts(result, books[m])
        cross_ids.extend(i for i in by_id if i not in cross_ids)
        if by_id and n_liq > 0:
            counts[m] = (n_liq, by_id)
        elif by_id:
            quiet.append(m)
    fig = None
    if counts:
        order = [i for i in ids if i in cross_ids]
        fig = trigger_bars(f"p{k_port}-trigger", order, counts, result.weights is not None)
    notes = []
    if quiet:
        notes.append(
            f"The cross bucket was never liquidated in {' or '.join(quiet)} on any of the "
            f"{result.paths:,} paths, so there is no leg to blame there."
        )
    if not cross_ids:
        notes.append("No mode has a cross bucket, so no leg can set off a cross liquidation.")
    return fig, notes


def detail_figures(
    result: RunResult,
    k_port: int,
    port: dict[str, Any],
    axis: TimeAxis,
    price_bands: dict[int, np.ndarray],
    equity_bands: dict[tuple[int, str], np.ndarray],
) -> tuple[list[Figure], list[str]]:
    """The detail figures of one portfolio, and notes on figures that had nothing to show.

    Parameters
    ----------
    axis : the time axis the bands are taken at (`stress.analysis.detail.DetailBands.axis`)
    price_bands : {asset index: (5, n_points)} price quantiles, shared by every portfolio
    equity_bands : {(portfolio index, mode): (5, n_points)} from the run
        (`stress.analysis.detail.DetailBands.equity`)
    """
    modes = ordered_modes(port["modes"])
    figs = _price_figures(result, k_port, port, axis, price_bands)
    figs.append(
        equity_fan(
            f"p{k_port}-equity",
            axis,
            {m: equity_bands[(k_port, m)] for m in modes},
            result.portfolios[k_port].wallet,
            int(result.sample_prices.shape[0]),
        )
    )
    figs.append(_loss_figure(result, k_port, port))
    figs.append(_survival_figure(result, k_port, modes, axis))
    figs.append(_position_figure(result, k_port, port, modes))
    trigger, notes = _trigger_figure(result, k_port, modes)
    if trigger is not None:
        figs.append(trigger)
    return figs, notes
