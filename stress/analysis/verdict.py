"""Which margin mode to choose for a portfolio, and why, with paired statistics.

Every mode of a portfolio is evaluated on the same price paths, so modes are compared path by
path (paired differences). That removes the noise the modes share: two modes that agree on most
paths are told apart with far fewer paths than two independent estimates would need.

The rule, stated in the report too: the recommended mode has the best value of the objective
(default ES99, the mean loss in the worst 1 % of outcomes: what a stress test guards against).
Modes whose objective is statistically indistinguishable from the best are tied, and ties go
to the lower liquidation probability, then the lower expected loss.
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

    def books_of(self, k_port: int) -> list[int]:
        return self.layout.books_of(k_port)


OBJECTIVES = ("es_99", "p_liquidation", "expected_loss")
COMPARED = ("p_liquidation", "es_99", "expected_loss", "p_ruin", "bad_debt_mean")
"""Metrics compared mode against mode; lower is better for all of them."""

_LABEL = {
    "p_liquidation": "liquidation probability",
    "es_99": "ES99",
    "expected_loss": "expected loss",
    "p_ruin": "ruin probability",
    "bad_debt_mean": "mean bad debt",
}
_PROBABILITIES = ("p_liquidation", "p_ruin")
WHOLE_WALLET = 0.95
"""An ES99 at or above this share of the wallet means the whole wallet is at risk."""


def es_influence(loss: np.ndarray, var: float, es: float, a: float = 0.99) -> np.ndarray:
    """Per-path influence function of ES_a: its sample mean's variance is ES's variance.

    IF(x) = VaR + (x - VaR) 1{x > VaR} / (1 - a) - ES (Acerbi & Tasche's tail mean), so the
    standard error of a paired ES difference is std(IF_a - IF_b) / sqrt(n) without a bootstrap.
    """
    loss = np.asarray(loss, dtype=np.float64)
    return var + np.where(loss > var, loss - var, 0.0) / (1.0 - a) - es


def _per_path(result: Outcomes, k: int, metric: str) -> np.ndarray:
    """The per-path quantity whose mean (or tail functional) is `metric`, for book k."""
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
            cache[k, metric] = _per_path(run, k, metric)
        arrays.append(cache[k, metric])
    x_a, x_b = arrays
    d = paired_difference(x_a, x_b)
    diff = run_a.metrics[k_a][metric] - run_b.metrics[k_b][metric]
    se = (d["se"] or 0.0) * math.sqrt(x_a.shape[0] / run_a.paths)
    lo, hi = diff - Z95 * se, diff + Z95 * se
    return {"difference": diff, "se": se, "ci": [lo, hi], "distinguishable": bool(lo > 0 or hi < 0)}


def _fmt(metric: str, x: float) -> str:
    if metric in _PROBABILITIES:
        return f"{100 * x:.1f} %"
    return f"{x:,.0f} USDT"


def _fmt_diff(metric: str, x: float) -> str:
    if metric in _PROBABILITIES:
        return f"{100 * x:+.1f} pts"
    return f"{x:+,.0f} USDT"


def _comparison_text(c: dict[str, Any]) -> str:
    m = c["metric"]
    lo, hi = c["ci"]
    verdict = "distinguishable" if c["distinguishable"] else "not distinguishable from noise"
    return (
        f"{_LABEL[m]}: {c['mode']} minus {c['versus']} = {_fmt_diff(m, c['difference'])} "
        f"(95 % CI {_fmt_diff(m, lo)} to {_fmt_diff(m, hi)}): {verdict}"
    )


def _tied_with_best(result: Outcomes, books: list[int], metric: str, cache: dict) -> list[int]:
    """Books whose `metric` is not distinguishably worse than the best book's."""
    best = min(books, key=lambda k: result.metrics[k][metric])
    return [
        k
        for k in books
        if k == best or not compare_books(result, k, best, metric, cache)["distinguishable"]
    ]


def _rank(
    result: Outcomes, books: list[int], objective: str, cache: dict
) -> tuple[int, list[tuple[str, list[int]]]]:
    """The recommended book and how it was reached.

    Best objective; ties (within noise) go to p_liquidation, then expected loss. The second
    value lists, per criterion used, the books still tied after it: the last one decided.
    """
    order = [objective] + [m for m in ("p_liquidation", "expected_loss") if m != objective]
    candidates = books
    steps = []
    for metric in order:
        before = candidates
        candidates = _tied_with_best(result, candidates, metric, cache)
        steps.append((metric, before))
        if len(candidates) == 1:
            return candidates[0], steps
    best = min(candidates, key=lambda k: tuple(result.metrics[k][m] for m in order))
    return best, steps


def _whole_wallet(result: Outcomes, k: int) -> bool:
    wallet = result.portfolios[result.layout.books[k].portfolio].wallet
    return result.metrics[k]["es_99"] >= WHOLE_WALLET * wallet


_WHAT = {
    "es_99": "the smallest tail loss (ES99, the mean loss in the worst 1 % of paths)",
    "p_liquidation": "the lowest liquidation probability",
    "expected_loss": "the smallest expected loss",
}


def _against(result: Outcomes, metric: str, books: list[int]) -> str:
    parts = [
        f"{_fmt(metric, result.metrics[k][metric])} in {result.layout.books[k].mode}" for k in books
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _headline(result: Outcomes, rec: int, others: list[int], steps: list) -> str:
    """Why `rec` was chosen: the criterion that decided, and the ties before it."""
    mode = result.layout.books[rec].mode
    objective = steps[0][0]
    value = result.metrics[rec][objective]
    if not others:
        return f"{mode} is the only mode evaluated: {_LABEL[objective]} {_fmt(objective, value)}."
    decided, pool = steps[-1]
    rivals = [k for k in pool if k != rec]
    reason = (
        f"it has {_WHAT[decided]}, {_fmt(decided, result.metrics[rec][decided])} "
        f"against {_against(result, decided, rivals)}"
    )
    if decided == objective:
        return f"Choose {mode}: {reason}."
    tied = [k for k in steps[1][1] if k != rec] if len(steps) > 1 else rivals
    return (
        f"Choose {mode}: its {_LABEL[objective]} ({_fmt(objective, value)}) is within "
        f"statistical noise of {_against(result, objective, tied)}, and among those "
        f"{reason}."
    )


def _tradeoff(result: Outcomes, rec: int, others: list[int], cache: dict) -> str | None:
    """What the best alternative on liquidation probability offers, and what it costs."""
    m_rec = result.metrics[rec]
    safer = [
        k
        for k in others
        if compare_books(result, k, rec, "p_liquidation", cache)["distinguishable"]
        and result.metrics[k]["p_liquidation"] < m_rec["p_liquidation"]
    ]
    if not safer:
        return None
    k = min(safer, key=lambda j: result.metrics[j]["p_liquidation"])
    m, mode = result.metrics[k], result.layout.books[k].mode
    p_rec, p_alt = m_rec["p_liquidation"], m["p_liquidation"]
    text = (
        f"Trade-off: {mode} cuts the liquidation probability from "
        f"{_fmt('p_liquidation', p_rec)} to {_fmt('p_liquidation', p_alt)}"
    )
    if m["es_99"] > m_rec["es_99"]:
        text += (
            f" but raises ES99 from {_fmt('es_99', m_rec['es_99'])} to {_fmt('es_99', m['es_99'])}"
        )
        if _whole_wallet(result, k):
            text += f": in {mode} the whole wallet is at risk"
    if m["expected_loss"] < m_rec["expected_loss"]:
        text += (
            f"; its expected loss is {_fmt('expected_loss', m['expected_loss'])} against "
            f"{_fmt('expected_loss', m_rec['expected_loss'])}"
        )
    return text + "."


def portfolio_verdict(result: Outcomes, k_port: int, objective: str = "es_99") -> dict[str, Any]:
    """The recommendation for one portfolio of a run.

    ``objective`` is one of `OBJECTIVES`, checked with the run's other settings by
    `stress.pipeline.prepare.check_overrides`.

    Returns
    -------
    dict
        ``recommended`` (mode), ``objective``, ``headline`` and ``tradeoff`` (sentences; the
        trade-off is None when no mode is distinguishably safer from liquidation), ``winners``
        ({metric: modes tied for best}), ``comparisons`` (paired differences recommended minus
        each other mode, for every compared metric, with a sentence each) and ``rule``.
    """
    books = result.books_of(k_port)
    mode_of = {k: result.layout.books[k].mode for k in books}
    cache: dict = {}
    rec, steps = _rank(result, books, objective, cache)
    others = [k for k in books if k != rec]
    comparisons = []
    for k in others:
        for metric in COMPARED:
            c = compare_books(result, rec, k, metric, cache)
            c["text"] = _comparison_text(c)
            comparisons.append(c)
    return {
        "recommended": mode_of[rec],
        "objective": objective,
        "headline": _headline(result, rec, others, steps),
        "tradeoff": _tradeoff(result, rec, others, cache),
        "winners": {
            m: [mode_of[k] for k in _tied_with_best(result, books, m, cache)] for m in COMPARED
        },
        "comparisons": comparisons,
        "rule": (
            f"The recommended mode has the best {_LABEL[objective]}; modes within statistical "
            "noise of it (95 % paired interval covering 0) are tied, and ties go to the lower "
            "liquidation probability, then the lower expected loss."
        ),
    }
