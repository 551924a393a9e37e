"""Trade-off sentences: what each mode costs, in the trader's words.

Two kinds. Beside a recommendation, what the mode safest from liquidation would buy and cost
(`safer_alternative`). Without one (no rule decided, or nothing fits the risk capital), one
sentence per mode that says how often it is liquidated and what is then lost
(`mode_sentence`): "cross: liquidated on 1.8 % of paths, and then the whole wallet of 10,000
USDT is lost", so that the trader sees the choice the single metrics hide.
"""

from __future__ import annotations

from stress.analysis.paired import Outcomes, compare_books
from stress.analysis.verdict_text import fmt
from stress.portfolios.modes import isolated_in

WHOLE_WALLET = 0.95
"""An ES99 at or above this share of the wallet means the whole wallet is at risk."""


def whole_wallet(result: Outcomes, k: int) -> bool:
    """Whether book k's ES99 is (nearly) its whole wallet."""
    wallet = result.portfolios[result.layout.books[k].portfolio].wallet
    return result.metrics[k]["es_99"] >= WHOLE_WALLET * wallet


def safer_alternative(
    result: Outcomes, rec: int, others: list[int], cache: dict, risk_capital: float | None = None
) -> str | None:
    """What the best alternative on liquidation probability offers, and what it costs (None
    when no other mode is distinguishably safer from liquidation)."""
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
        f"{fmt('p_liquidation', p_rec)} to {fmt('p_liquidation', p_alt)}"
    )
    if m["es_99"] > m_rec["es_99"]:
        text += (
            f" but raises ES99 from {fmt('es_99', m_rec['es_99'])} to {fmt('es_99', m['es_99'])}"
        )
        if risk_capital is not None and m["es_99"] > risk_capital:
            text += f", beyond the risk capital of {fmt('es_99', risk_capital)}"
        if whole_wallet(result, k):
            text += f": in {mode} the whole wallet is at risk"
    if m["expected_loss"] < m_rec["expected_loss"]:
        text += (
            f"; its expected loss is {fmt('expected_loss', m['expected_loss'])} against "
            f"{fmt('expected_loss', m_rec['expected_loss'])}"
        )
    return text + "."


def smaller_tail(result: Outcomes, rec: int, others: list[int], cache: dict) -> str | None:
    """What the mode with the smallest tail would save, and what it costs in liquidations (None
    when no other mode has a distinguishably smaller ES99)."""
    m_rec = result.metrics[rec]
    smaller = [
        k
        for k in others
        if result.metrics[k]["es_99"] < m_rec["es_99"]
        and compare_books(result, k, rec, "es_99", cache)["distinguishable"]
    ]
    if not smaller:
        return None
    k = min(smaller, key=lambda j: result.metrics[j]["es_99"])
    m, mode = result.metrics[k], result.layout.books[k].mode
    text = (
        f"Trade-off: {mode} lowers ES99 from {fmt('es_99', m_rec['es_99'])} to "
        f"{fmt('es_99', m['es_99'])}"
    )
    if m["p_liquidation"] > m_rec["p_liquidation"]:
        text += (
            f" but raises the liquidation probability from "
            f"{fmt('p_liquidation', m_rec['p_liquidation'])} to "
            f"{fmt('p_liquidation', m['p_liquidation'])}"
        )
    return text + "."


def _isolated_cap(result: Outcomes, k: int) -> float | None:
    """The most book k can lose when every position stands alone on its own margin (None when
    some position shares the cross bucket or a top-up rule adds margin as it goes)."""
    book = result.layout.books[k]
    port = result.portfolios[book.portfolio]
    if not all(isolated_in(book.mode, p) and p.top_up is None for p in port.positions):
        return None
    return sum(p.margin for p in port.positions)


def mode_sentence(result: Outcomes, k: int) -> str:
    """One sentence for book k: how often it is liquidated, and what is then lost."""
    book, m = result.layout.books[k], result.metrics[k]
    port = result.portfolios[book.portfolio]
    alone = any(isolated_in(book.mode, p) for p in port.positions) and len(port.positions) > 1
    who = "a position is liquidated" if alone else "liquidated"
    p, es = m["p_liquidation"], fmt("es_99", m["es_99"])
    text = f"{book.mode}: {who} on {fmt('p_liquidation', p)} of paths"
    if p == 0:
        text = f"{book.mode}: never liquidated on these paths"
    cap = _isolated_cap(result, k)
    if whole_wallet(result, k) and not alone and p >= 0.01:
        return text + f", and then the whole wallet of {fmt('es_99', port.wallet)} is lost."
    if whole_wallet(result, k):
        return text + f"; the worst 1 % of paths lose the whole wallet (ES99 {es})."
    if cap is not None:
        return (
            text + f"; losses are capped at the {fmt('es_99', cap)} posted as margin (ES99 {es})."
        )
    return text + f"; the worst 1 % of paths lose {es} on average (ES99)."


ASK = (
    "Set account.risk_capital (the USDT you can afford to lose) for a recommendation: the mode "
    "with the lowest liquidation probability whose ES99 stays within it."
)


def no_pick_headline(result: Outcomes, books: list[int]) -> str:
    """Neither a risk capital nor an objective: no single pick, the trade-off mode by mode."""
    sentences = " ".join(mode_sentence(result, k) for k in books)
    return f"No single pick without a risk capital. {sentences} {ASK}"
