"""Estimators from paths drawn under a sampling measure Q, weighted by ``w = dP/dQ``.

Importance sampling (`stress.paths.importance`) draws the paths from Q and gives each one its
likelihood ratio ``w``; every expectation under the real measure P is then the weighted mean
``E_P[f] = E_Q[w f] ~ mean(w f)`` over the n paths (not divided by ``sum w``: unbiased, and
exactly the plain estimator when every weight is 1). So:

* a probability ``P(A) ~ mean(w 1{A})``, its standard error ``std(w 1{A}) / sqrt(n)`` (sample
  standard deviation, ``ddof=1``) and a 95 % interval ``p +- 1.96 SE`` clipped to [0, 1]. It is
  a normal interval, **not** Wilson's: Wilson's score interval is for a binomial count, which a
  weighted sum is not. With no path in A it is [0, 0], which says nothing: `effective_paths`
  and the SE are the honest measure then.
* VaR and ES from the weighted empirical loss distribution, read from the upper tail where Q
  puts its paths: ``tail(x) = sum_{L_i > x} w_i / n`` estimates ``P(L > x)``; ``VaR_a`` is the
  smallest path loss x with ``tail(x) <= 1 - a``, and ``ES_a`` the tail mean with the mass
  missing to ``1 - a`` put at VaR (Acerbi and Tasche): ``(sum_{L_i > VaR} w_i L_i / n +
  (1 - a - tail(VaR)) VaR) / (1 - a)``, so ``ES >= VaR``. With every weight 1, VaR is the
  plain ``ceil(a n)``-th smallest loss and ES the plain mean of the worst ``(1 - a) n`` when
  that is a whole number of paths (otherwise the path at VaR counts for the fraction missing).
* quantiles of a conditional distribution (the time to liquidation of the paths that liquidate)
  normalise by the weights of those paths: the smallest value whose cumulated share reaches q.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

Z95 = 1.959963984540054
"""Two-sided 95 % standard normal quantile (`stress.analysis.metrics.Z95`)."""


def _pair(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if x.shape != w.shape or x.size == 0:
        raise ValueError(f"need equal, non-empty values and weights, got {x.shape} and {w.shape}")
    return x, w


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """``mean(w x)``: the estimate of ``E_P[x]`` from paths drawn under Q."""
    x, w = _pair(values, weights)
    return float(np.mean(w * x))


def weighted_probability(
    flags: np.ndarray, weights: np.ndarray, z: float = Z95, p_paths: int | None = None
) -> dict:
    """``P(A)`` from per-path indicators, with its standard error and normal interval.

    Parameters
    ----------
    p_paths : int, optional
        Paths drawn under P itself (the defensive mixture's share). When no path shows the
        event, the normal interval is [0, 0], which says nothing; the upper end is then Wilson's
        for no event in these plain paths, the most the sample can rule out.

    Returns
    -------
    dict
        ``{"p", "se", "ci": [lo, hi]}``: ``p = mean(w 1{A})``, ``se = std(w 1{A}, ddof=1) /
        sqrt(n)`` (0 for one path), ``ci = [max(0, p - z se), min(1, p + z se)]``.
    """
    x, w = _pair(np.asarray(flags, dtype=bool), weights)
    y = w * x
    n = y.size
    p = float(y.mean())
    se = float(y.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    ci = [max(0.0, p - z * se), min(1.0, p + z * se)]
    if not x.any() and p_paths:
        ci = [0.0, z * z / (p_paths + z * z)]  # Wilson's upper end for 0 of p_paths
    return {"p": p, "se": se, "ci": ci}


def _tail(loss: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Losses sorted in descending order, their weights / n, and the weighted mass strictly
    above each (``tail(x)`` at each sorted loss; equal losses share their mass)."""
    x, w = _pair(loss, weights)
    order = np.argsort(-x, kind="stable")
    xs, ws = x[order], w[order] / x.size
    cum = np.cumsum(ws)
    # the mass strictly above xs[j]: the cumulated mass of the larger losses, ties excluded
    first = np.searchsorted(-xs, -xs, side="left")
    above = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    return xs, ws, above


def weighted_var(loss: np.ndarray, weights: np.ndarray, a: float) -> float:
    """Smallest path loss x with ``sum_{L_i > x} w_i / n <= 1 - a`` (module docstring)."""
    xs, _, above = _tail(loss, weights)
    ok = np.flatnonzero(above <= (1.0 - a) * (1.0 + 1e-12))
    return float(xs[ok[-1]])  # the descending order's last admissible loss is the smallest


def weighted_es(loss: np.ndarray, weights: np.ndarray, a: float) -> float:
    """Mean loss in the worst ``1 - a`` of P's distribution (module docstring); >= VaR."""
    xs, ws, _ = _tail(loss, weights)
    var = weighted_var(loss, weights, a)
    beyond = xs > var
    mass = float(ws[beyond].sum())
    es = (float(ws[beyond] @ xs[beyond]) + max(0.0, (1.0 - a) - mass) * var) / (1.0 - a)
    return max(es, var)


def weighted_quantiles(
    values: np.ndarray, weights: np.ndarray, qs: Mapping[str, float]
) -> dict[str, float] | None:
    """Quantiles of the values' distribution normalised by their weights: for each q the
    smallest value whose cumulated weight share reaches q. None for no values (or no weight)."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    total = float(w.sum())
    if x.size == 0 or not total > 0.0:
        return None
    order = np.argsort(x, kind="stable")
    share = np.cumsum(w[order]) / total
    out = {}
    for tag, q in qs.items():
        j = min(int(np.searchsorted(share, q * (1.0 - 1e-12), side="left")), x.size - 1)
        out[tag] = float(x[order][j])
    return out


def weighted_book_metrics(
    arrays: Mapping[str, np.ndarray | None],
    weights: np.ndarray,
    ruin_level: float,
    step_hours: float,
    levels: Mapping[str, float],
    ttl_quantiles: Mapping[str, float],
    liquidation_weights: np.ndarray | None = None,
    p_paths: int | None = None,
) -> dict:
    """`stress.analysis.metrics.book_metrics` under importance sampling: the same keys, every
    number weighted (module docstring), plus ``p_liquidation_interval: "normal"``.

    ``arrays`` holds ``loss``, ``first_liq_step``, ``bad_debt``, ``final_equity`` and optionally
    ``fees_paid`` (n_paths,). ``bad_debt_max`` stays the largest on any path drawn: a support
    bound, not an expectation, so no weight applies (Q draws more extreme paths than P would).
    ``liquidation_weights`` (default `weights`) weight what the first liquidation decides: the
    liquidation probability, its interval and the time to liquidation (weights stopped there).
    """
    w = np.asarray(weights, dtype=np.float64)
    loss = np.asarray(arrays["loss"], dtype=np.float64)
    steps = np.asarray(arrays["first_liq_step"])
    liquidated = steps >= 0
    w_liq = w if liquidation_weights is None else np.asarray(liquidation_weights, np.float64)
    p = weighted_probability(liquidated, w_liq, p_paths=p_paths)
    equity = np.asarray(arrays["final_equity"], dtype=np.float64)
    out: dict = {
        "p_liquidation": p["p"],
        "p_liquidation_ci": p["ci"],
        "p_liquidation_se": p["se"],
        "p_ruin": weighted_mean(equity <= ruin_level, w),
        "expected_loss": weighted_mean(loss, w),
    }
    for tag, a in levels.items():
        out[f"var_{tag}"] = weighted_var(loss, w, a)
    for tag, a in levels.items():
        out[f"es_{tag}"] = weighted_es(loss, w, a)
    debt = np.asarray(arrays["bad_debt"], dtype=np.float64)
    out["bad_debt_mean"] = weighted_mean(debt, w)
    out["bad_debt_max"] = float(debt.max())
    if arrays.get("fees_paid") is not None:
        out["fees_paid_mean"] = weighted_mean(arrays["fees_paid"], w)
    hours = steps[liquidated].astype(np.float64) * float(step_hours)
    out["time_to_liquidation_hours"] = weighted_quantiles(hours, w_liq[liquidated], ttl_quantiles)
    out["p_liquidation_interval"] = "normal"
    return out
