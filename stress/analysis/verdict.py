"""Which margin mode to choose for a portfolio, and why: three rules, and which one decided.

Every mode of a portfolio is evaluated on the same price paths and compared path by path
(`stress.analysis.paired`). The rule, stated in the verdict, `stress compare` and the report:

* ``risk_capital``: the portfolio's account sets ``risk_capital`` (the USDT the trader can
  afford to lose) and no objective was asked for. Among the modes whose ES99 stays within it,
  the one with the lowest liquidation probability (`stress.analysis.risk_capital`). When none
  fits there is no pick, and the run says what would fit (`stress.pipeline.fit_search`).
* ``objective``: the user asked for one metric (``--objective``, ``objective=``): the mode with
  its best value (`stress.analysis.objective`), as before risk capital existed.
* None: neither. A single metric would mislead (ES99 always favours the mode whose loss is
  capped by the posted margins, however often it liquidates), so there is no pick: the verdict
  states the trade-off in one sentence per mode and asks for a risk capital.
"""

from __future__ import annotations

from typing import Any

from stress.analysis.objective import (
    OBJECTIVES,
    objective_headline,
    objective_rule,
    rank,
    tied_with_best,
)
from stress.analysis.paired import Outcomes, compare_books, es_influence, paired_books
from stress.analysis.risk_capital import (
    RULE,
    none_fits_headline,
    pick_headline,
    pick_within_risk_capital,
)
from stress.analysis.tradeoff import (
    WHOLE_WALLET,
    mode_sentence,
    no_pick_headline,
    safer_alternative,
    smaller_tail,
)
from stress.analysis.verdict_text import LABEL, fmt_diff

__all__ = [
    "COMPARED",
    "DECIDED_BY",
    "OBJECTIVES",
    "WHOLE_WALLET",
    "Outcomes",
    "compare_books",
    "es_influence",
    "paired_books",
    "portfolio_verdict",
]

COMPARED = ("p_liquidation", "es_99", "expected_loss", "p_ruin", "bad_debt_mean")
"""Metrics compared mode against mode; lower is better for all of them."""

DECIDED_BY = ("risk_capital", "objective", None)
"""The values of a verdict's ``decided_by``."""

NO_RULE = (
    "No rule decided (no account.risk_capital, no objective). With account.risk_capital the "
    "recommended mode is the one with the lowest liquidation probability whose ES99 (the mean "
    "loss in the worst 1 % of paths) stays within it; with an objective (es_99, p_liquidation "
    "or expected_loss), the one with its best value."
)


def _comparison_text(c: dict[str, Any]) -> str:
    m = c["metric"]
    lo, hi = c["ci"]
    verdict = "distinguishable" if c["distinguishable"] else "not distinguishable from noise"
    return (
        f"{LABEL[m]}: {c['mode']} minus {c['versus']} = {fmt_diff(m, c['difference'])} "
        f"(95 % CI {fmt_diff(m, lo)} to {fmt_diff(m, hi)}): {verdict}"
    )


def _comparisons(result: Outcomes, ref: int, books: list[int], cache: dict) -> list[dict]:
    """Paired differences `ref` minus each other book, for every compared metric."""
    out = []
    for k in books:
        if k == ref:
            continue
        for metric in COMPARED:
            c = compare_books(result, ref, k, metric, cache)
            c["text"] = _comparison_text(c)
            out.append(c)
    return out


def _by_risk_capital(result: Outcomes, books: list[int], rc: float, cache: dict) -> dict:
    """The risk-capital rule's pick (None when no mode fits) and its sentences."""
    pick = pick_within_risk_capital(result, books, rc, cache=cache)
    fits = [result.layout.books[k].mode for k in pick.fits]
    if pick.best is None:
        modes = " ".join(mode_sentence(result, k) for k in books)
        return {
            "rec": None,
            "headline": none_fits_headline(result, books, rc),
            "tradeoff": modes,
            "within_risk_capital": fits,
        }
    others = [k for k in books if k != pick.best]
    return {
        "rec": pick.best,
        "headline": pick_headline(result, books, rc, pick),
        "tradeoff": safer_alternative(result, pick.best, others, cache, rc)
        or smaller_tail(result, pick.best, others, cache),
        "within_risk_capital": fits,
    }


def _by_objective(result: Outcomes, books: list[int], objective: str, cache: dict) -> dict:
    rec, steps = rank(result, books, objective, cache)
    others = [k for k in books if k != rec]
    return {
        "rec": rec,
        "headline": objective_headline(result, rec, others, steps),
        "tradeoff": safer_alternative(result, rec, others, cache),
    }


def portfolio_verdict(
    result: Outcomes, k_port: int, objective: str | None = None
) -> dict[str, Any]:
    """The recommendation for one portfolio of a run, by the rule that applies (module
    docstring).

    ``objective`` is one of `OBJECTIVES` or None (not asked for), checked with the run's other
    settings by `stress.pipeline.prepare.check_overrides`.

    Returns
    -------
    dict
        ``recommended`` (mode, or None when there is no single pick), ``decided_by`` (one of
        `DECIDED_BY`), ``objective`` (the objective that decided, else None), ``risk_capital``
        (the portfolio's, or None), ``within_risk_capital`` (the modes whose ES99 fits it;
        None without a risk capital), ``headline`` and ``tradeoff`` (sentences; the trade-off
        is None when no mode is distinguishably safer from liquidation than the pick),
        ``winners`` ({metric: modes tied for best}), ``comparisons`` (paired differences of the
        recommended mode, or the first mode without one, minus each other mode, for every
        compared metric, with a sentence each), ``rule`` (the rule that decided, in words) and
        ``fit`` (None here; what would fit the risk capital when no mode does, filled in by
        `stress.pipeline.fit_search` for a run's base paths).
    """
    books = result.books_of(k_port)
    rc = result.portfolios[k_port].risk_capital
    cache: dict = {}
    within = None
    if objective is not None:
        decided_by, rule = "objective", objective_rule(objective)
        out = _by_objective(result, books, objective, cache)
    elif rc is not None:
        decided_by, rule = "risk_capital", RULE
        out = _by_risk_capital(result, books, rc, cache)
        within = out["within_risk_capital"]
    else:
        decided_by, rule = None, NO_RULE
        out = {"rec": None, "headline": no_pick_headline(result, books), "tradeoff": None}
    rec = out["rec"]
    return {
        "recommended": None if rec is None else result.layout.books[rec].mode,
        "decided_by": decided_by,
        "objective": objective,
        "risk_capital": rc,
        "within_risk_capital": within,
        "headline": out["headline"],
        "tradeoff": out["tradeoff"],
        "winners": {
            m: [result.layout.books[k].mode for k in tied_with_best(result, books, m, cache)]
            for m in COMPARED
        },
        "comparisons": _comparisons(result, books[0] if rec is None else rec, books, cache),
        "rule": rule,
        "fit": None,
    }
