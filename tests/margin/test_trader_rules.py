"""The trader's rules (`stress.margin.trader_rules`) worked by hand.

Every example marks one asset X from 100 along a few hand-written marks, on a flat 5 %
maintenance, and checks the numbers worked out in its comments twice: on the engine
(`stress.margin.engine.evaluate_prices`, the compiled rules kernel) and on the plain-Python
reference written from the docstring (`support.rules_reference`). The random books are in
test_trader_rules_random.py.

The position of most examples: X long 10,000 at 100 (q = 100) at 10x, margin 1,000;
maintenance 5 % of the notional (475 at 95, 470 at 94); equity 1,000 + 100 (S - 100).
"""

from __future__ import annotations

import numpy as np
import pytest
from support.rules_cases import portfolio, position
from support.rules_reference import reference_rules

import stress
from stress.config.trader import HardStop, ReduceStep, StopLoss, TopUp
from stress.margin.engine import MarketRules, evaluate_prices
from stress.margin.funding import market_rules
from stress.margin.layout import build_layout
from stress.margin.processes import DEFAULT_PROCESS, FILLABLE_PRICE
from stress.margin.slippage import Liquidity
from stress.paths import TimeGrid
from stress.pipeline.prepare import prepare
from stress.venues.tiers import TierTable

S0 = np.array([100.0])
FLAT = [TierTable.flat(0.05, 10.0)]
NOTHING = dict(liq=-1, bad=0.0, fees=0.0, stops=0, stop_step=-1, reduces=0, reduce_step=-1)
NOTHING.update(top_ups=0, top_up_step=-1, top_up_amount=0.0, hard_stop_step=-1)


def long(i=0, notional=10_000.0, **rules):
    return position(i, 0, S0, "long", notional, 10.0, **rules)


def short(i=0, notional=10_000.0, **rules):
    return position(i, 0, S0, "short", notional, 10.0, **rules)


def run(portfolios, marks, *, modes=("isolated",), fee=0.0, process=DEFAULT_PROCESS, book=None):
    """(engine, reference) results of the books on one path of marks of X."""
    prices = np.asarray(marks, dtype=float)[None, :, None]
    market = MarketRules(np.zeros(len(marks)), fee, process, book)
    layout = build_layout(portfolios, list(modes), FLAT, S0)
    return evaluate_prices(layout, market, prices), reference_rules(layout, market, prices)


def check(results, k: int = 0, **expected) -> None:
    """Book k of path 0, in both results, is `expected` (the rest: nothing happened)."""
    want = {**NOTHING, **expected}
    for r in results:
        ev = r.rule_events
        got = dict(equity=r.final_equity[0, k], liq=r.first_liq_step[0, k], bad=r.bad_debt[0, k])
        got.update(fees=r.fees_paid[0, k])
        got.update({name: getattr(ev, name)[0, k] for name in ev._fields})
        assert got == pytest.approx(want, rel=1e-12, abs=1e-9), type(r).__name__


def test_a_price_stop_fills_at_the_gapped_mark_before_the_venue():
    # Stop at 97; the mark gaps from 98 to 94. The stop fills at 94, not 97: PnL 100 x -6 = -600,
    # the bucket keeps 1,000 - 600 = 400, which joins the free balance (0). The venue would have
    # liquidated at 94 (equity 400 <= 470, fee 1 % x 9,400 = 94) but the rules act first: no fee.
    out = run(
        [portfolio([long(stop_loss=StopLoss(price=97.0))], 1_000.0)], [100, 98, 94, 99], fee=0.01
    )
    check(out, equity=400.0, stops=1, stop_step=2)


def test_a_margin_fraction_stop_reads_the_initial_margin_in_every_mode():
    # Short q = -100 at 100, margin 1,000, stop at a loss of 0.5 x 1,000 = 500 (S >= 105); wallet
    # 5,000. Isolated (free 4,000): at 104.99 the loss is 499 < 500, but equity 1,000 - 499 = 501
    # <= 5 % x 10,499 = 524.95: the venue liquidates at step 2, the trader keeps 501: 4,501.
    # Cross (one bucket of 5,000): safe at 104.99; at 106 the loss 600 >= 500 fires the stop,
    # the bucket keeps 5,000 - 600 = 4,400, all of it free.
    port = portfolio([short(stop_loss=StopLoss(margin_fraction=0.5))], 5_000.0)
    out = run([port], [100, 103, 104.99, 106, 90], modes=("isolated", "cross"))
    check(out, 0, equity=4_501.0, liq=2)
    check(out, 1, equity=4_400.0, stops=1, stop_step=3)


def test_a_rung_against_and_a_rung_in_favour_each_fire_once():
    # Wallet 2,000 (free 1,000). Rung 1: 3 % against (S <= 97), close 0.5 x 100 = 50; rung 2:
    # 4 % in favour (S >= 104), close 0.25 x 100 = 25.
    # 96: rung 1 closes 50 at 96, PnL 50 x -4 = -200: collateral 800, q = 50 (equity 600 > 240).
    # 95, 97: rung 1 has fired; nothing. 104.5: rung 2 closes 25, PnL 25 x 4.5 = 112.5:
    # collateral 912.5, q = 25. 105, 96 (rung 1 would fire again), 100: nothing.
    # Final: free 1,000 + 912.5 + 25 x (100 - 100) = 1,912.5.
    rungs = (
        ReduceStep(move=0.03, close=0.5),
        ReduceStep(move=0.04, close=0.25, direction="favour"),
    )
    marks = [100, 96, 95, 97, 104.5, 105, 96, 100]
    check(
        run([portfolio([long(reduce=rungs)], 2_000.0)], marks),
        equity=1_912.5,
        reduces=2,
        reduce_step=1,
    )


def test_a_top_up_saves_an_isolated_bucket():
    # Wallet 3,000 (free 2,000); top-up at margin ratio 0.8 of one initial margin (1,000), once.
    # 98: equity 800, 0.8 x 800 = 640 > 490. 95.5: equity 550, 440 <= 477.5: 1,000 moves in
    # (free 1,000, collateral 2,000). 93: equity 1,300 > 465 (without the top-up: 300 <= 465,
    # liquidated, the trader keeps 300: 2,000 + 300 = 2,300). 92, then 97: 2,000 - 300 = 1,700.
    # Final: 1,000 + 1,700 = 2,700.
    ports = [
        portfolio([long(top_up=TopUp(at_margin_ratio=0.8))], 3_000.0),
        portfolio([long()], 3_000.0, name="bare"),
    ]
    out = run(ports, [100, 98, 95.5, 93, 92, 97])
    check(out, 0, equity=2_700.0, top_ups=1, top_up_step=2, top_up_amount=1_000.0)
    check(out, 1, equity=2_300.0, liq=3)


def test_top_ups_stop_at_max_times():
    # 200 USDT at most twice; wallet 3,000 (free 2,000); liquidation fee 1 %.
    # 95.5: equity 550, 440 <= 477.5: +200 (collateral 1,200). 93.5: equity 1,200 - 650 = 550,
    # 440 <= 467.5: +200 (1,400). 91.5: equity 550, 440 <= 457.5, but twice already: nothing
    # (550 > 457.5, safe). 90: equity 400 <= 450: liquidated, fee 1 % x 9,000 = 90, the trader
    # keeps 310. Final: free 1,600 + 310 = 1,910.
    top = TopUp(at_margin_ratio=0.8, amount=200.0, max_times=2)
    out = run([portfolio([long(top_up=top)], 3_000.0)], [100, 95.5, 93.5, 91.5, 90], fee=0.01)
    check(out, equity=1_910.0, liq=4, fees=90.0, top_ups=2, top_up_step=1, top_up_amount=400.0)


def test_a_top_up_moves_no_more_than_the_free_balance():
    # Wallet 1,150 (free 150), one initial margin (1,000) up to 3 times. 95.5: equity 550 fires
    # it, 150 moves (collateral 1,150, free 0). 94: equity 550, 440 <= 470 fires it again but
    # nothing is left: nothing moves, not counted. 92.5: equity 400 <= 462.5: liquidated, the
    # trader keeps 400.
    top = TopUp(at_margin_ratio=0.8, max_times=3)
    out = run([portfolio([long(top_up=top)], 1_150.0)], [100, 95.5, 94, 92.5])
    check(out, equity=400.0, liq=3, top_ups=1, top_up_step=1, top_up_amount=150.0)


def test_a_stopped_bucket_funds_a_later_top_up_at_the_same_mark():
    # Two longs of 10,000, wallet 2,000 (free 0). The first stops at 97: at 95.5 it closes with
    # 1,000 - 450 = 550, which joins the free balance; then (step 4 after step 3) the second's
    # top-up fires (equity 550, 440 <= 477.5) and takes those 550 (collateral 1,550).
    # 93: equity 850 > 465 (without the money: 300, liquidated). 92: 1,550 - 800 = 750.
    ports = [
        portfolio(
            [long(0, stop_loss=StopLoss(price=97.0)), long(1, top_up=TopUp(at_margin_ratio=0.8))],
            2_000.0,
        )
    ]
    out = run(ports, [100, 98, 95.5, 93, 92])
    check(out, equity=750.0, stops=1, stop_step=2, top_ups=1, top_up_step=2, top_up_amount=550.0)


def test_a_hard_stop_on_drawdown_closes_every_bucket():
    # Long q = 100 (margin 1,000) and short q = -50 (5,000 at 10x, margin 500), wallet 3,000;
    # hard stop at a 10 % drawdown: equity 2,700. The book's equity is 3,000 + 50 (S - 100).
    # 97: 2,850; 95: 2,750 (the long's bucket: 500 > 475). 93.5: 2,675 <= 2,700: everything is
    # closed at 93.5 (the long's bucket, 350, would have been liquidated: 350 <= 467.5): isolated,
    # 1,500 + (1,000 - 650) + (500 + 325) = 2,675; cross, 3,000 - 650 + 325 = 2,675. The rebound
    # to 110 changes nothing.
    port = portfolio([long(0), short(1, notional=5_000.0)], 3_000.0, HardStop(drawdown=0.1))
    out = run([port], [100, 97, 95, 93.5, 110], modes=("isolated", "cross"))
    for k in (0, 1):
        check(out, k, equity=2_675.0, hard_stop_step=3)


@pytest.mark.parametrize(
    ("rules", "wallet", "mark", "expected"),
    [
        # a long's stop at 97, the mark at 97: closed with 1,000 - 300 = 700
        ({"stop_loss": StopLoss(price=97.0)}, 1_000.0, 97.0, dict(equity=700.0, stops=1)),
        # loss 100 x 3 = 300 = 0.3 x 1,000
        ({"stop_loss": StopLoss(margin_fraction=0.3)}, 1_000.0, 97.0, dict(equity=700.0, stops=1)),
        # 100 x (1 - 0.03) = 97 exactly: half closed at 97 (-150), the rest back at 100: 850
        ({"reduce": (ReduceStep(move=0.03, close=0.5),)}, 1_000.0, 97.0,
         dict(equity=850.0, reduces=1)),
        # at 96 equity 600 x 0.8 = 480 = 5 % x 9,600: 1,000 moves from the free 1,000; back at
        # 100 the bucket holds 2,000, the free balance 0
        ({"top_up": TopUp(at_margin_ratio=0.8)}, 2_000.0, 96.0,
         dict(equity=2_000.0, top_ups=1, top_up_amount=1_000.0)),
        # the book's equity 3,000 - 300 = 2,700 at the stop's level: closed at 97
        ({}, 3_000.0, 97.0, dict(equity=2_700.0, hard_stop_step=1)),
    ],
    ids=["price-stop", "fraction-stop", "rung", "top-up", "hard-stop"],
)  # fmt: skip
def test_every_threshold_fires_when_reached_exactly(rules, wallet, mark, expected):
    hard = None if rules else HardStop(equity=2_700.0)
    out = run([portfolio([long(**rules)], wallet, hard)], [100, mark, 100])
    steps = {f"{name}_step": 1 for name in ("stop", "reduce", "top_up") if name + "s" in expected}
    check(out, **expected, **steps)


BOOK = Liquidity(*(np.array([x]) for x in (True, 0.0005, 1.0, 0.05, 38_400.0)))
"""X's book: spread 10 bp (half: 0.0005), k = 1, daily vol 0.05, depth 38,400."""


@pytest.mark.parametrize("kind", ["full_close", "fillable_price"])
def test_a_trader_close_pays_the_slippage_of_its_notional(kind):
    # Stop at 97, filled at 96: notional 9,600, impact 0.0005 + 0.05 sqrt(9,600 / 38,400) =
    # 0.0255, slippage 244.8. The bucket keeps 1,000 - 400 - 244.8 = 355.2. No liquidation fee
    # (1 %). Under fillable_price the venue's cap (0.1 maintenance margins: 48) is for its own
    # liquidations; the trader's order pays the book's full 244.8.
    process = (
        DEFAULT_PROCESS
        if kind == "full_close"
        else DEFAULT_PROCESS._replace(kind=FILLABLE_PRICE, fill_multiple=0.1)
    )
    port = portfolio([long(stop_loss=StopLoss(price=97.0))], 1_000.0)
    out = run([port], [100, 98, 96, 100], fee=0.01, process=process, book=BOOK)
    check(out, equity=355.2, stops=1, stop_step=2)


def test_rules_from_a_config():
    # The top-up example from a config: the rules resolved into the layout (one initial margin,
    # 1,000; the hard stop's equity level, 2,000; the stop at 0.9 x 1,000 = 900 of loss).
    pos = {"id": "x", "asset": "X", "side": "long", "notional": 10_000.0, "leverage": 10.0}
    pos.update(margin_mode="isolated", top_up={"at_margin_ratio": 0.8})
    pos.update(stop_loss={"margin_fraction": 0.9})
    cfg = {
        "name": "rules",
        "simulation": {"paths": 4, "horizon_days": 1.0, "steps_per_day": 24},
        "model": {"type": "gbm", "assets": {"X": {"price": 100.0, "vol": 0.5}}},
        "exchange": {"liquidation_fee": 0.0, "default_market": {"mmr": 0.05, "max_leverage": 10.0}},
        "account": {"wallet": 3_000.0, "hard_stop": {"equity": 2_000.0}},
        "positions": [pos],
        "modes": ["isolated"],
    }
    plan = prepare(stress.load_config(cfg))
    rules = plan.layout.rules
    assert (rules.top_amount[0], rules.stop_loss[0], rules.book_stop[0]) == (
        1_000.0,
        900.0,
        2_000.0,
    )
    prices = np.array([100, 98, 95.5, 93, 92, 97], dtype=float)[None, :, None]
    market = market_rules(plan.config, TimeGrid(n_steps=5, dt=plan.grid.dt))
    out = evaluate_prices(plan.layout, market, prices), reference_rules(plan.layout, market, prices)
    check(out, equity=2_700.0, top_ups=1, top_up_step=2, top_up_amount=1_000.0)
