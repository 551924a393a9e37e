"""The pick within a risk capital: the safest arrangement whose tail loss the trader can afford.

A single objective such as ES99 always favours the mode whose loss is capped by the posted
margins, even when that mode liquidates a leg on nearly every path. A trader thinks the other
way round: "I can afford to lose this much; within that, keep me from being liquidated." So:

* a book *fits* when its ES99 (the mean loss in the worst 1 % of paths) is at most the risk
  capital (and, when a ceiling is given, its ruin probability is at most that ceiling);
* among the fits, the best has the lowest liquidation probability; fits whose liquidation
  probability is within statistical noise of the lowest (95 % paired interval of the difference
  covering 0) are tied, and the tie goes to the lowest expected loss.

Any books of one run may be compared: every portfolio of a run is evaluated on the same paths,
so the paired differences are valid across portfolios as well as across modes.
"""

from __future__ import annotations

from typing import NamedTuple

from stress.analysis.paired import Outcomes, paired_books
from stress.analysis.verdict_text import against, fmt, modes_of


class RiskPick(NamedTuple):
    """The outcome of `pick_within_risk_capital`.

    ``best`` is None when nothing fits; ``tied`` lists the fits whose liquidation probability is
    within noise of the lowest (``best`` among them), ``fits`` every book within the limits, in
    the order given.
    """

    best: int | None
    tied: list[int]
    fits: list[int]


def fits_risk_capital(
    result: Outcomes, k: int, risk_capital: float, max_p_ruin: float | None = None
) -> bool:
    """Whether book k's ES99 is within the risk capital (and its ruin probability within the
    ceiling, when one is given). Point estimates: the limit is the trader's, not a test."""
    m = result.metrics[k]
    if not m["es_99"] <= risk_capital:
        return False
    return max_p_ruin is None or m["p_ruin"] <= max_p_ruin


def pick_within_risk_capital(
    result: Outcomes,
    books: list[int],
    risk_capital: float,
    max_p_ruin: float | None = None,
    cache: dict | None = None,
) -> RiskPick:
    """The book to recommend among `books` of one run under a risk capital (module docstring).

    `cache` (a dict) keeps per-path arrays between calls on the same run, as in
    `stress.analysis.verdict.compare_books`.
    """
    cache = {} if cache is None else cache
    fits = [k for k in books if fits_risk_capital(result, k, risk_capital, max_p_ruin)]
    if not fits:
        return RiskPick(None, [], [])

    def key(k: int) -> tuple[float, float]:
        m = result.metrics[k]
        return (m["p_liquidation"], m["expected_loss"])

    lowest = min(fits, key=key)
    tied = [
        k
        for k in fits
        if k == lowest
        or not paired_books(result, k, result, lowest, "p_liquidation", cache, cache)[
            "distinguishable"
        ]
    ]
    best = min(tied, key=lambda k: (result.metrics[k]["expected_loss"], key(k)[0]))
    return RiskPick(best, tied, fits)


def _same_numbers(result: Outcomes, k: int, j: int) -> bool:
    """Whether books k and j have the same liquidation probability, ES99 and expected loss
    (one book under two names: as_configured with every position in cross is cross)."""
    keys = ("p_liquidation", "es_99", "expected_loss")
    return all(result.metrics[k][m] == result.metrics[j][m] for m in keys)


def pick_headline(result: Outcomes, books: list[int], risk_capital: float, pick: RiskPick) -> str:
    """Why `pick.best` was chosen under the risk capital (it must not be None)."""
    best = pick.best
    mode = result.layout.books[best].mode
    over = [k for k in books if k not in pick.fits]
    within = f"the risk capital of {fmt('es_99', risk_capital)}"
    if over:
        within += f" (ES99 {against(result, 'es_99', over)} exceeds it)"
    same = [k for k in pick.tied if k != best and _same_numbers(result, k, best)]
    note = f" ({modes_of(result, same)} has the same numbers)" if len(same) == 1 else ""
    note = f" ({modes_of(result, same)} have the same numbers)" if len(same) > 1 else note
    if len(pick.fits) == 1 + len(same):
        es = fmt("es_99", result.metrics[best]["es_99"])
        who = "it is the only mode"
        if same:
            who = f"it and {modes_of(result, same)}, with the same numbers, are the only modes"
        return f"Choose {mode}: {who} whose ES99 ({es}) stays within {within}."
    lead = f"Choose {mode}: of the modes whose ES99 stays within {within}, "
    rivals = [k for k in pick.fits if k not in pick.tied]
    tied = [k for k in pick.tied if k != best and k not in same]
    if not tied:
        p = fmt("p_liquidation", result.metrics[best]["p_liquidation"])
        rest = f"{against(result, 'p_liquidation', rivals)}{note}"
        return lead + f"it has the lowest liquidation probability, {p} against {rest}."
    others = f"; {against(result, 'p_liquidation', rivals)}" if rivals else ""
    loss = fmt("expected_loss", result.metrics[best]["expected_loss"])
    return lead + (
        f"{modes_of(result, [best, *tied])} have the lowest liquidation probability, within "
        f"statistical noise of each other ({against(result, 'p_liquidation', [best, *tied])}"
        f"{others}), and {mode} has the smallest expected loss of them, {loss} against "
        f"{against(result, 'expected_loss', tied)}{note}."
    )


def none_fits_headline(result: Outcomes, books: list[int], risk_capital: float) -> str:
    """No mode's ES99 is within the risk capital: each mode's ES99 against it."""
    return (
        f"No mode fits the risk capital of {fmt('es_99', risk_capital)}: ES99 is "
        f"{against(result, 'es_99', books)}."
    )


RULE = (
    "Decided by the risk capital (account.risk_capital): among the modes whose ES99 (the mean "
    "loss in the worst 1 % of paths) stays within it, the recommended mode has the lowest "
    "liquidation probability; modes within statistical noise of it (95 % paired interval "
    "covering 0) are tied, and ties go to the lower expected loss."
)
"""The rule as the verdict, `stress compare` and the report state it."""
