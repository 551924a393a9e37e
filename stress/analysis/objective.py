"""The objective rule: the mode with the best value of one metric the user chose.

``--objective es_99`` (the mean loss in the worst 1 % of paths), ``p_liquidation`` or
``expected_loss``. Modes whose objective is statistically indistinguishable from the best (the
95 % paired interval of the difference covering 0) are tied, and ties go to the lower
liquidation probability, then the lower expected loss. A single metric is easy to state but
one-sided: ES99 always favours the mode whose loss is capped by the posted margins, however
often it liquidates, which is why it is no longer the default (`stress.analysis.verdict`).
"""

from __future__ import annotations

from stress.analysis.paired import Outcomes, compare_books
from stress.analysis.verdict_text import LABEL, against, fmt

OBJECTIVES = ("es_99", "p_liquidation", "expected_loss")

Steps = list[tuple[str, list[int]]]
"""Per criterion used, the books still in the running before it: the last one decided."""


def tied_with_best(result: Outcomes, books: list[int], metric: str, cache: dict) -> list[int]:
    """Books whose `metric` is not distinguishably worse than the best book's."""
    best = min(books, key=lambda k: result.metrics[k][metric])
    return [
        k
        for k in books
        if k == best or not compare_books(result, k, best, metric, cache)["distinguishable"]
    ]


def rank(result: Outcomes, books: list[int], objective: str, cache: dict) -> tuple[int, Steps]:
    """The recommended book and how it was reached.

    Best objective; ties (within noise) go to p_liquidation, then expected loss. The second
    value lists, per criterion used, the books still tied before it: the last one decided.
    """
    order = [objective] + [m for m in ("p_liquidation", "expected_loss") if m != objective]
    candidates = books
    steps = []
    for metric in order:
        before = candidates
        candidates = tied_with_best(result, candidates, metric, cache)
        steps.append((metric, before))
        if len(candidates) == 1:
            return candidates[0], steps
    best = min(candidates, key=lambda k: tuple(result.metrics[k][m] for m in order))
    return best, steps


_WHAT = {
    "es_99": "the smallest tail loss (ES99, the mean loss in the worst 1 % of paths)",
    "p_liquidation": "the lowest liquidation probability",
    "expected_loss": "the smallest expected loss",
}


def objective_headline(result: Outcomes, rec: int, others: list[int], steps: Steps) -> str:
    """Why `rec` was chosen: the criterion that decided, and the ties before it."""
    mode = result.layout.books[rec].mode
    objective = steps[0][0]
    value = result.metrics[rec][objective]
    if not others:
        return f"{mode} is the only mode evaluated: {LABEL[objective]} {fmt(objective, value)}."
    decided, pool = steps[-1]
    rivals = [k for k in pool if k != rec]
    reason = (
        f"it has {_WHAT[decided]}, {fmt(decided, result.metrics[rec][decided])} "
        f"against {against(result, decided, rivals)}"
    )
    if decided == objective:
        return f"Choose {mode}: {reason}."
    tied = [k for k in steps[1][1] if k != rec] if len(steps) > 1 else rivals
    return (
        f"Choose {mode}: its {LABEL[objective]} ({fmt(objective, value)}) is within "
        f"statistical noise of {against(result, objective, tied)}, and among those "
        f"{reason}."
    )


def objective_rule(objective: str) -> str:
    """The rule as the verdict, `stress compare` and the report state it."""
    return (
        f"The recommended mode has the best {LABEL[objective]}; modes within statistical "
        "noise of it (95 % paired interval covering 0) are tied, and ties go to the lower "
        "liquidation probability, then the lower expected loss."
    )
