"""Three edges of the trader's rules a second reader found, each worked by hand on asset X at
100 with a flat 5 % maintenance, checked on the engine and the plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest
from support.rules_cases import portfolio, position, stripped
from support.rules_reference import reference_rules

from stress.config.trader import ReduceStep, TopUp
from stress.margin.engine import MarketRules, evaluate_prices
from stress.margin.layout import build_layout
from stress.margin.processes import DEFAULT_PROCESS
from stress.venues.tiers import TierTable

S0 = np.array([100.0])
FLAT = [TierTable.flat(0.05, 10.0)]


def both(portfolios, marks, modes):
    prices = np.asarray(marks, dtype=float)[None, :, None]
    market = MarketRules(np.zeros(len(marks)), 0.0, DEFAULT_PROCESS, None)
    layout = build_layout(portfolios, list(modes), FLAT, S0)
    return evaluate_prices(layout, market, prices), reference_rules(layout, market, prices)


def test_a_top_up_never_liquidates_the_cross_bucket_it_draws_on():
    # as_configured: isolated long 10,000 at 10x (margin 1,000) with a top-up at 80 %; a cross
    # short 1,000 at 10x on the rest of the 1,300 wallet (300). At 95.5 the long's equity is
    # 550 and 550 x 0.8 <= 477.5: a top-up of 1,000 is wanted. The free balance is 0; the cross
    # bucket holds 300 + 10 x 4.5 = 345 against an initial margin of 95.5: 249.5 moves, and the
    # short keeps 95.5 > its maintenance 47.75. Without the cap at the initial margin it would
    # have given 345 - 47.75 and been liquidated at that mark.
    iso = position(0, 0, S0, "long", 10_000.0, 10.0, top_up=TopUp(at_margin_ratio=0.8))
    cross = position(1, 0, S0, "short", 1_000.0, 10.0, mode="cross")
    marks = [100, 98, 95.5, 96, 97]
    for out in both([portfolio([iso, cross], 1_300.0)], marks, ["as_configured"]):
        assert out.first_liq_step[0, 0] == -1
        assert out.rule_events.top_up_amount[0, 0] == pytest.approx(249.5)
        # nothing lost: the two legs' PnL at 97 on the 1,300 wallet
        assert out.final_equity[0, 0] == pytest.approx(1_300.0 - 300.0 + 30.0)
    bare = both(stripped([portfolio([iso, cross], 1_300.0)]), marks, ["as_configured"])[0]
    assert bare.first_liq_step[0, 0] == -1  # neither leg breaches without the top-up either


def test_ladder_shares_adding_up_to_one_close_the_position_whole():
    # Long 1,000.5 at 10x, isolated (margin 100.05); rungs of 0.3 at a 1 % fall and 0.7 at 2 %:
    # 0.3 q + 0.7 q leaves a rounding error of q open, closed with the rest. At 98.5 the first
    # rung realises 0.3 x 10.005 x -1.5; at 80 the second closes everything left.
    rungs = (ReduceStep(move=0.01, close=0.3), ReduceStep(move=0.02, close=0.7))
    pos = position(0, 0, S0, "long", 1_000.5, 10.0, reduce=rungs)
    for out in both([portfolio([pos], 100.05)], [100, 98.5, 80, 100], ["isolated"]):
        assert out.first_liq_step[0, 0] == -1  # no venue liquidation of a dust position
        assert out.rule_events.reduces[0, 0] == 2
        q = 10.005
        realised = 0.3 * q * -1.5 + 0.7 * q * -20.0
        assert out.bad_debt[0, 0] == pytest.approx(max(0.0, -(100.05 + realised)))
        assert out.final_equity[0, 0] == pytest.approx(max(0.0, 100.05 + realised), abs=1e-9)


def test_a_bankrupt_bucket_gets_no_top_up():
    # Isolated long 10,000 at 10x (margin 1,000), wallet 3,000, top-up at 80 %. The mark gaps
    # to 80: equity -1,000. A top-up would only pay the venue's deficit; the venue liquidates,
    # 1,000 is bad debt and the free 2,000 stays the trader's.
    pos = position(0, 0, S0, "long", 10_000.0, 10.0, top_up=TopUp(at_margin_ratio=0.8))
    for out in both([portfolio([pos], 3_000.0)], [100, 80, 100], ["isolated"]):
        assert out.rule_events.top_ups[0, 0] == 0
        assert out.first_liq_step[0, 0] == 1
        assert out.bad_debt[0, 0] == pytest.approx(1_000.0)
        assert out.final_equity[0, 0] == pytest.approx(2_000.0)
