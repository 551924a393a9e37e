"""Paired statistics between books run on the same paths: the noise two books share cancels.

Every mode of a portfolio, every portfolio of a run, and one book on two venues run on the same
price paths, so they are compared path by path (paired differences). Two books that agree on
most paths are then told apart with far fewer paths than two independent estimates would need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from stress.analysis.metrics import RUIN_FRACTION, Z95, paired_difference
from stress.margin.engine import PathResults
from stress.margin.layout import Layout
from stress.portfolios.resolve import ResolvedPortfolio


@dataclass(frozen=True)
class Outcomes:
    """What a verdict reads of a run: its books, per-path results and metrics."""

    layout: Layout
    results: PathResults
    portfolios: list[ResolvedPortfolio]
    metrics: list[dict[str, Any]]  # one per book
    paths: int
    # likelihood ratios dP/dQ of the paths under importance sampling (`stress.paths.importance`);
    # None: plain Monte Carlo
    weights: np.ndarray | None = None  # (n_paths,)
    # the same stopped at each book's first liquidation, (n_paths, n_books), for p_liquidation
    liquidation_weights: np.ndarray | None = None

    def books_of(self, k_port: int) -> list[int]:
        return self.layout.books_of(k_port)


def es_influence(
    loss: np.ndarray, var: float, es: float, a: float = 0.99, weights: np.ndarray | None = None
) -> np.ndarray:
    """Per-path influence function of ES_a: its sample mean's variance is ES's variance.

    IF(x) = VaR + (x - VaR) 1{x > VaR} / (1 - a) - ES (Acerbi & Tasche's tail mean), so the
    standard error of a paired ES difference is std(IF_a - IF_b) / sqrt(n) without a bootstrap.
    With importance-sampling `weights` only the tail term is weighted (`per_path`).
    """
    loss = np.asarray(loss, dtype=np.float64)
    tail = np.where(loss > var, loss - var, 0.0)
    if weights is not None:
        return var + np.asarray(weights, dtype=np.float64) * tail / (1.0 - a) - es
    return var + tail / (1.0 - a) - es


def per_path(result: Outcomes, k: int, metric: str) -> np.ndarray:
    """The per-path quantity whose mean (or tail functional) is `metric`, for book k; under
    importance sampling times each path's likelihood ratio, so that its mean estimates the
    metric under the real measure and its spread gives the weighted estimator's standard error.

    For ES only the tail term is weighted: the weighted ES is ``VaR + mean(w (L - VaR)+) /
    (1 - a)`` (`stress.analysis.weighted.weighted_es`), so its influence is ``w (L - VaR)+ /
    (1 - a) + VaR - ES``; weighting the constants too would add ``(w - 1)(VaR - ES)`` and
    overstate the standard error.
    """
    weights = getattr(result, "weights", None)
    if weights is None:
        return _unweighted(result, k, metric)
    if metric in ("p_liquidation", "p_ruin", "bad_debt_mean", "expected_loss"):
        x = _unweighted(result, k, metric)
        stopped = getattr(result, "liquidation_weights", None)
        if metric == "p_liquidation" and stopped is not None:
            return x * stopped[:, k]
        return x * weights
    m = result.metrics[k]
    loss = result.layout.book_initial_equity[k] - result.results.final_equity[:, k]
    return es_influence(loss, m["var_99"], m["es_99"], weights=weights)


def _unweighted(result: Outcomes, k: int, metric: str) -> np.ndarray:
    res, layout = result.results, result.layout
    if metric == "p_liquidation":
        return (res.first_liq_step[:, k] >= 0).astype(np.float64)
    if metric == "p_ruin":
        wallet = result.portfolios[layout.books[k].portfolio].wallet
        return (res.final_equity[:, k] <= RUIN_FRACTION * wallet).astype(np.float64)
    if metric == "bad_debt_mean":
        return res.bad_debt[:, k]
    loss = layout.book_initial_equity[k] - res.final_equity[:, k]
    if metric == "expected_loss":
        return loss
    m = result.metrics[k]
    return es_influence(loss, m["var_99"], m["es_99"])


def compare_books(
    result: Outcomes, k_a: int, k_b: int, metric: str, cache: dict | None = None
) -> dict[str, Any]:
    """Paired difference a - b of `metric` between two books of the same portfolio.

    The difference is that of the run's metrics; its standard error comes from the paths whose
    per-path results were kept (all of them unless the run was too big), scaled to the run.
    `cache` (a dict) keeps per-path arrays between calls on the same run.
    """
    out = paired_books(result, k_a, result, k_b, metric, cache, cache)
    return {
        "metric": metric,
        "mode": result.layout.books[k_a].mode,
        "versus": result.layout.books[k_b].mode,
        **out,
    }


def paired_books(
    run_a: Outcomes,
    k_a: int,
    run_b: Outcomes,
    k_b: int,
    metric: str,
    cache_a: dict | None = None,
    cache_b: dict | None = None,
) -> dict[str, Any]:
    """Paired difference a - b of `metric` between book k_a of one run and book k_b of another
    (or the same) run on the same paths: two modes of a portfolio, or one book on two venues.

    Returns ``{"difference", "se", "ci", "distinguishable"}`` (see `compare_books`).
    """
    arrays = []
    for run, k, cache in ((run_a, k_a, cache_a), (run_b, k_b, cache_b)):
        cache = {} if cache is None else cache
        if (k, metric) not in cache:
            cache[k, metric] = per_path(run, k, metric)
        arrays.append(cache[k, metric])
    x_a, x_b = arrays
    d = paired_difference(x_a, x_b)
    diff = run_a.metrics[k_a][metric] - run_b.metrics[k_b][metric]
    se = (d["se"] or 0.0) * math.sqrt(x_a.shape[0] / run_a.paths)
    lo, hi = diff - Z95 * se, diff + Z95 * se
    return {"difference": diff, "se": se, "ci": [lo, hi], "distinguishable": bool(lo > 0 or hi < 0)}
