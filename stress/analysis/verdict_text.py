"""How the verdict writes its numbers, metric names and lists of modes.

One place, so that the objective rule, the risk-capital rule and the trade-off sentences say
"1.8 %" and "6,000 USDT" the same way, and a reader can match a sentence to the table.
"""

from __future__ import annotations

from stress.analysis.paired import Outcomes

LABEL = {
    "p_liquidation": "liquidation probability",
    "es_99": "ES99",
    "expected_loss": "expected loss",
    "p_ruin": "ruin probability",
    "bad_debt_mean": "mean bad debt",
}
PROBABILITIES = ("p_liquidation", "p_ruin")


def fmt(metric: str, x: float) -> str:
    """A metric's value as the verdict writes it: '1.8 %' or '6,000 USDT'; a probability too
    small for one decimal (importance sampling measures them) to two significant digits,
    '0.0011 %'."""
    if metric in PROBABILITIES:
        if 0 < x < 0.0005:
            return f"{100 * x:.2g} %"
        return f"{100 * x:.1f} %"
    return f"{x:,.0f} USDT"


def money(x: float) -> str:
    """An amount: '60,000 USDT'."""
    return f"{x:,.0f} USDT"


def fmt_diff(metric: str, x: float) -> str:
    """A signed difference: '+1.8 pts' or '-4,000 USDT'."""
    if metric in PROBABILITIES:
        return f"{100 * x:+.1f} pts"
    return f"{x:+,.0f} USDT"


def joined(parts: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def modes_of(result: Outcomes, books: list[int]) -> str:
    """The books' modes as a list: 'cross and as_configured'."""
    return joined([result.layout.books[k].mode for k in books])


def against(result: Outcomes, metric: str, books: list[int]) -> str:
    """'10,000 USDT in cross and 10,000 USDT in as_configured'."""
    return joined(
        [
            f"{fmt(metric, result.metrics[k][metric])} in {result.layout.books[k].mode}"
            for k in books
        ]
    )
