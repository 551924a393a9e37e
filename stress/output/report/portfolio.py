"""One portfolio's part of the report: verdict tables, positions and its detail figures.

Everything returned here is plain data for the template (strings unescaped: the template
autoescapes) plus `Figure` objects whose user strings are already escaped for plotly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from stress.output.report import figures as F
from stress.output.report import series as S
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

if TYPE_CHECKING:
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


def detail_figures(
    result: RunResult,
    k_port: int,
    port: dict[str, Any],
    axis: S.TimeAxis,
    price_bands: dict[int, np.ndarray],
    equity_bands: dict[tuple[int, str], np.ndarray],
) -> tuple[list[F.Figure], list[str]]:
    """The detail figures of one portfolio, and notes on figures that had nothing to show.

    Parameters
    ----------
    price_bands : {asset index: (5, n_points)} price quantiles, shared by every portfolio
    equity_bands : {(portfolio index, mode): (5, n_points)} from `series.detail_equity_bands`
    """
    modes = ordered_modes(port["modes"])
    books = _books_of(result, k_port)
    resolved = result.portfolios[k_port]
    n_paths = result.paths
    n_sample = int(result.sample_prices.shape[0])
    key = f"p{k_port}"
    figs: list[F.Figure] = []
    notes: list[str] = []

    assets = [
        a for a in result.config.model.assets if any(p.asset == a for p in resolved.positions)
    ]
    for a_idx, asset in enumerate(result.config.model.assets):
        if asset not in assets:
            continue
        lines: dict[tuple[str, float], list[str]] = {}
        for p in resolved.positions:
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
        liq = [(pid, ms, lp) for (pid, lp), ms in lines.items()]
        figs.append(
            F.price_fan(f"{key}-price{a_idx}", asset, axis, price_bands[a_idx], liq, n_sample)
        )

    figs.append(
        F.equity_fan(
            f"{key}-equity",
            axis,
            {m: equity_bands[(k_port, m)] for m in modes},
            resolved.wallet,
            n_sample,
        )
    )

    groups = identical_modes(result, k_port, modes)
    edges, shares, lumped = S.loss_histogram(result, [books[g[0]] for g in groups])
    tails = {m: {t: port["modes"][m][t] for t in ("var_99", "es_99")} for m in modes}
    figs.append(
        F.loss_distribution(
            f"{key}-loss", edges, list(zip(groups, shares, strict=True)), tails, n_paths, lumped
        )
    )

    curves = {}
    for m in modes:
        cum, n = S.cumulative_liquidation(result, books[m])
        k = cum[axis.steps]
        lo, hi = S.wilson_bands(k, n)
        curves[m] = (k / n, lo, hi)
    figs.append(F.liquidation_curve(f"{key}-survival", axis, curves))

    ids = [p.id for p in resolved.positions]
    probs = {}
    for m in modes:
        p = np.array([port["modes"][m]["positions"][i]["p_liquidation"] for i in ids])
        lo, hi = S.wilson_bands(np.round(p * n_paths), n_paths)
        probs[m] = list(zip(p, lo, hi, strict=True))
    figs.append(F.position_bars(f"{key}-positions", ids, probs))

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
    if counts:
        order = [i for i in ids if i in cross_ids]
        figs.append(F.trigger_bars(f"{key}-trigger", order, counts))
    if quiet:
        notes.append(
            f"The cross bucket was never liquidated in {' or '.join(quiet)} on any of the "
            f"{n_paths:,} paths, so there is no leg to blame there."
        )
    if not cross_ids:
        notes.append("No mode has a cross bucket, so no leg can set off a cross liquidation.")
    return figs, notes
