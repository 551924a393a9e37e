"""The trader's rules under the venue's ``tier_step_down`` (Bybit, OKX), worked by hand.

The venue's step-down (`stress.margin.processes`): at a breach with equity >= 0, every open
position in a tier at or above ``full_close_tiers`` is cut to the cap of its next lower tier,
the closed part filled at the mark (less its slippage), the liquidation fee on the closed
notional paid out of the equity, the realised PnL booked into the collateral; the bucket stays
open and the trader's rules act on it again from the next mark. The hand examples check the
engine (`stress.margin.engine.evaluate_prices`, the compiled rules kernel) and the plain-Python
reference (`support.rules_reference`) against the numbers in their comments; rules that never
fire must leave the existing process kernel's numbers bit for bit; random books close it off.

X at 100, two tiers: 1 % up to 50,000, 2 % above (amount 500, by continuity: maintenance
``0.02 N - 500`` above 50,000). The position of the examples: X long 100,000 at 100 (q = 1,000)
at 10x, margin 10,000, isolated; equity ``10,000 + 1,000 (S - 100)`` until the venue acts.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from support.rules_cases import NumpyDraw, assert_agree, portfolio, position, random_case
from support.rules_reference import reference_rules

from stress.config.trader import ReduceStep, StopLoss, TopUp
from stress.margin.engine import MarketRules, evaluate_prices
from stress.margin.layout import build_layout
from stress.margin.processes import DEFAULT_PROCESS, TIER_STEP_DOWN
from stress.margin.slippage import Liquidity
from stress.venues.tiers import TierTable

S0 = np.array([100.0])
TWO_TIERS = [TierTable.build([50_000.0, math.inf], [0.01, 0.02], [50.0, 25.0])]
STEP_DOWN = DEFAULT_PROCESS._replace(kind=TIER_STEP_DOWN, full_close_tiers=1)
Q_CUT = 50_000.0 / 91.0
"""The long's quantity after its cut at 91: the cap of tier 0 at the mark."""


def big_long(i=0, **rules):
    return position(i, 0, S0, "long", 100_000.0, 10.0, **rules)


def run(portfolios, marks, *, tables=TWO_TIERS, fee=0.005, book=None, modes=("isolated",)):
    """(engine, reference) results of the books on one path of marks of X, under step-down."""
    prices = np.asarray(marks, dtype=float)[None, :, None]
    market = MarketRules(np.zeros(len(marks)), fee, STEP_DOWN, book)
    layout = build_layout(portfolios, list(modes), tables, S0)
    return evaluate_prices(layout, market, prices), reference_rules(layout, market, prices)


def outcome(r, k: int = 0) -> dict:
    """Book k of path 0: its amounts, steps, rule events and partial closes."""
    got = dict(equity=r.final_equity[0, k], liq=r.first_liq_step[0, k], bad=r.bad_debt[0, k])
    got.update(fees=r.fees_paid[0, k], cuts=r.partial_closes[0, k])
    got.update(cut_notional=r.partial_notional[0, k])
    ev = r.rule_events
    got.update({name: getattr(ev, name)[0, k] for name in ev._fields})
    return got


NOTHING = dict(bad=0.0, stops=0, stop_step=-1, reduces=0, reduce_step=-1, top_ups=0)
NOTHING.update(top_up_step=-1, top_up_amount=0.0, hard_stop_step=-1)


def check(results, liquidated, triggered, **expected) -> None:
    """Book 0 of path 0, in both results, is `expected` (the rest: nothing fired), and the
    positions' flags are `liquidated` and `triggered`."""
    want = {**NOTHING, **expected}
    for r in results:
        assert outcome(r) == pytest.approx(want, rel=1e-12, abs=1e-9), type(r).__name__
        assert r.pos_liquidated[0].tolist() == liquidated, type(r).__name__
        assert r.pos_triggered[0].tolist() == triggered, type(r).__name__


def test_a_stop_fires_after_the_venue_cut_the_position_down_a_tier():
    # Wallet 10,000 (no free balance), fee 0.5 %, a stop at 90.8.
    #   95:   equity 5,000 > 0.02 x 95,000 - 500 = 1,400: safe.
    #   91:   the stop waits (91 > 90.8); equity 1,000 <= 0.02 x 91,000 - 500 = 1,320: a breach
    #         in tier 1, above the lowest: the venue cuts q to 50,000 / 91 = 549.45 (41,000 of
    #         notional closed at 91, its PnL -9 x 450.55 realised), fee 0.5 % x 41,000 = 205 out
    #         of the equity: 795 left; maintenance now 1 % x 50,000 = 500: open.
    #   90.5: the stop fires on what is left, at the mark: 795 - 0.5 x 549.45 = 520.27, which
    #         joins the free balance (before the venue: it would have found 520.27 > 497.25).
    #   92:   nothing open. Without the stop the bucket would hold 795 + 549.45 at 92.
    port = portfolio([big_long(stop_loss=StopLoss(price=90.8))], 10_000.0)
    out = run([port], [100, 95, 91, 90.5, 92])
    check(
        out, [True], [True], equity=795.0 - 0.5 * Q_CUT, liq=2, fees=205.0, cuts=1,
        cut_notional=41_000.0, stops=1, stop_step=3,
    )  # fmt: skip
    engine = out[0]
    assert engine.unruled_equity[0, 0] == pytest.approx(795.0 + Q_CUT, rel=1e-12)
    assert engine.unruled_liq_step[0, 0] == 2


def test_a_top_up_after_a_cut():
    # The long with a top-up of 1,000 at a margin ratio of 0.9, and a short of 10,000 at 10x
    # (margin 1,000) with a rung that takes it whole at a 9.2 % fall (its favour: S <= 90.8);
    # wallet 11,000, the two margins: no free balance.
    #   91:   the long's ratio 1,320 / 1,000 >= 0.9 wants a top-up, but there is no money: none
    #         moves (not counted). The venue cuts the long as above: equity 795, fee 205.
    #   90.5: the short's rung closes it, +100 x 9.5 = 950: 1,950 joins the free balance. Then
    #         the long (equity 520.27, maintenance 497.25, ratio 0.956 >= 0.9) gets 1,000 of it.
    #   92:   the long holds 1,795 + 549.45 (ratio 0.28), the free balance 950.
    take = ReduceStep(move=0.092, close=1.0, direction="favour")
    short = position(1, 0, S0, "short", 10_000.0, 10.0, reduce=(take,))
    top = TopUp(at_margin_ratio=0.9, amount=1_000.0, max_times=3)
    port = portfolio([big_long(top_up=top), short], 11_000.0)
    out = run([port], [100, 95, 91, 90.5, 92])
    check(
        out, [True, False], [True, False], equity=950.0 + 1_795.0 + Q_CUT, liq=2, fees=205.0,
        cuts=1, cut_notional=41_000.0, reduces=1, reduce_step=3, top_ups=1, top_up_step=3,
        top_up_amount=1_000.0,
    )  # fmt: skip


# --- rules that never fire ------------------------------------------------------------------
# Three tiers: 1 % up to 50,000, 2 % up to 100,000, 4 % up to 200,000 (`test_processes`). The
# long of 150,000 at 10x (margin 15,000) is cut at 92 (tier 2 -> 1) and at 90 (tier 1 -> 0) and
# closed whole at 89 (lowest tier), as in `test_processes.test_tier_step_down_cuts_...`.
THREE_TIERS = [
    TierTable.build([50_000.0, 100_000.0, 200_000.0], [0.01, 0.02, 0.04], [50.0, 25.0, 12.5])
]
DEEP = Liquidity(*(np.array([x]) for x in (True, 0.0005, 1.0, 0.05, 5e7)))
"""X's book, deep enough that the cuts' slippage leaves the long's equity positive at 90."""


def never(p) -> dict:
    """Rules that cannot fire on `p`: a long's stop at 100 margins of loss (it can lose 10 at
    most), a short's at 1e9, a rung that needs a price <= 0, and a top-up with no money to move
    (no free balance, no cross bucket to draw on in isolated mode; ignored in a cross bucket)."""
    long = p.side == "long"
    return dict(
        stop_loss=StopLoss(margin_fraction=100.0) if long else StopLoss(price=1e9),
        reduce=(ReduceStep(move=1.0, close=0.5, direction="against" if long else "favour"),),
        top_up=TopUp(at_margin_ratio=1.0, max_times=5),
    )


FIELDS = ("final_equity", "first_liq_step", "bad_debt", "fees_paid", "pos_liquidated")
FIELDS += ("pos_triggered", "partial_closes", "partial_notional")


def assert_same(ruled, market, prices) -> None:
    """The ruled layout and the same layout without rules: the same numbers, bit for bit, and
    no rule fired."""
    got = evaluate_prices(ruled, market, prices)
    want = evaluate_prices(replace(ruled, rules=None), market, prices)
    assert want.rule_events is None
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), name)
    ev = got.rule_events
    assert not (ev.stops.any() or ev.reduces.any() or ev.top_ups.any() or ev.top_up_amount.any())
    assert all((s == -1).all() for s in (ev.stop_step, ev.reduce_step, ev.top_up_step))
    assert (ev.hard_stop_step == -1).all()


@pytest.mark.parametrize("book", [None, DEEP], ids=["no-book", "book"])
@pytest.mark.parametrize("residual", [True, False], ids=["trader", "venue"])
def test_rules_that_never_fire_leave_the_step_down_untouched(book, residual):
    big = position(0, 0, S0, "long", 150_000.0, 10.0)
    hedge = position(1, 0, S0, "short", 60_000.0, 10.0)
    ports = [portfolio([replace(p, **never(p)) for p in (big, hedge)], 21_000.0)]
    ports.append(portfolio([replace(big, **never(big))], 15_000.0, name="alone"))
    layout = build_layout(ports, ["isolated", "cross"], THREE_TIERS, S0)
    process = STEP_DOWN._replace(residual_to_trader=residual)
    marks = [100.0, 95.0, 92.0, 92.0, 90.0, 89.0, 93.0]
    market = MarketRules(np.zeros(len(marks)), 0.001, process, book)
    prices = np.asarray(marks)[None, :, None]
    assert_same(layout, market, prices)
    got = evaluate_prices(layout, market, prices)
    # books (hedged, isolated), (hedged, cross), (alone, isolated), (alone, cross): the long alone
    # in its bucket is cut at 92 and 90 and closed whole at 89; hedged in one it never breaches
    assert got.partial_closes[0].tolist() == [2, 0, 2, 2]
    assert got.first_liq_step[0].tolist() == [2, -1, 2, 2]
    assert_agree(got, reference_rules(layout, market, prices), 21_000.0 + 210_000.0)


def with_never(portfolios) -> list:
    """The portfolios, every position with rules that never fire and a wallet of exactly its
    margins (no free balance for a top-up)."""
    out = []
    for port in portfolios:
        positions = [replace(p, **never(p)) for p in port.positions]
        out.append(portfolio(positions, sum(p.margin for p in positions), name=port.name))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_rules_that_never_fire_on_random_books_change_nothing(seed):
    case = random_case(NumpyDraw(500 + seed), rules=False, kind=TIER_STEP_DOWN)
    modes = [m for m in case.modes if m != "as_configured"] or ["isolated"]
    ruled = build_layout(with_never(case.portfolios), modes, case.tables, case.s0)
    assert ruled.rules is not None
    assert_same(ruled, case.market, case.prices)


# --- random books ---------------------------------------------------------------------------


def test_the_engine_is_the_reference_on_random_books_under_step_down():
    # Seeded random books (`support.rules_cases`) under tier_step_down only, tiers within the
    # notionals' range; the hypothesis test (test_trader_rules_random.py) mixes the processes.
    cut = fired_after = 0
    for seed in range(40):
        case = random_case(NumpyDraw(1_000 + seed), kind=TIER_STEP_DOWN)
        layout = case.layout
        got = evaluate_prices(layout, case.market, case.prices)
        ref = reference_rules(layout, case.market, case.prices)
        assert_agree(got, ref, case.scale)
        cuts = ref.partial_closes > 0
        cut += cuts.sum()
        ev = ref.rule_events
        fired = np.maximum.reduce([ev.stop_step, ev.reduce_step, ev.top_up_step])
        fired_after += (cuts & (fired > ref.first_liq_step)).sum()
    assert cut >= 20 and fired_after >= 5  # the cases are about rules around the venue's cuts
