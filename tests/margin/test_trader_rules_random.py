"""The trader's rules on random books: the engine against the reference, and the invariants.

Random books (`support.rules_cases`): 1-2 portfolios of 1-4 positions on 1-2 assets, long and
short, leverage 2-50, isolated or cross, run in a random set of modes, with random stops (price
or margin fraction), ladders, top-ups and hard stops, random funding, fee, process (full_close
or fillable_price, the residual to the trader or the venue) and books, on log-normal paths
with jumps. Hand-worked examples: test_trader_rules.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from support.rules_cases import (
    NumpyDraw,
    assert_agree,
    gbm_paths,
    max_adverse,
    portfolio,
    position,
    random_case,
    random_market,
    random_portfolio,
    rule_cases,
    stripped,
    without,
)
from support.rules_reference import reference_rules

from stress.config.trader import HardStop, ReduceStep, StopLoss, TopUp
from stress.margin.aggregate import BookResults
from stress.margin.engine import books_from_buckets, evaluate_prices
from stress.margin.layout import build_layout
from stress.margin.numpy_engine import mark_buckets_numpy, mark_process_numpy
from stress.margin.path_results import PathResults
from stress.margin.processes import DEFAULT_PROCESS
from stress.margin.slippage import slippage_cost
from stress.venues.tiers import TierTable

SEEDS = range(12)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=rule_cases())
def test_the_engine_is_the_reference(case):
    layout = case.layout
    got = evaluate_prices(layout, case.market, case.prices)
    assert_agree(got, reference_rules(layout, case.market, case.prices), case.scale)


@pytest.mark.parametrize("seed", SEEDS)
def test_without_rules_the_reference_is_the_plain_engine(seed):
    # the reference's venue arithmetic on its own, against the kernels the rules build on
    case = random_case(NumpyDraw(seed), rules=False)
    layout = case.layout
    got = evaluate_prices(layout, case.market, case.prices)
    assert got.rule_events is None
    assert_agree(got, reference_rules(layout, case.market, case.prices), case.scale)


def numpy_books(layout, market, prices) -> PathResults:
    """The numpy engine (`stress.margin.numpy_engine`) summed into books."""
    out = PathResults.empty(prices.shape[0], layout)
    if market.plain:
        buckets, closed = mark_buckets_numpy(layout, market, prices), None
    else:
        buckets, partial = mark_process_numpy(layout, market, prices)
        closed = partial.pos_closed
    books_from_buckets(layout, buckets, out, slice(None))
    if closed is not None:
        out.pos_liquidated[:] = closed
    return out


BOOK_FIELDS = BookResults._fields


@pytest.mark.parametrize("seed", SEEDS)
def test_no_rules_is_bit_for_bit_the_existing_kernels(seed):
    case = random_case(NumpyDraw(seed), rules=False)
    layout = case.layout
    assert layout.rules is None
    got = evaluate_prices(layout, case.market, case.prices)
    want = numpy_books(layout, case.market, case.prices)
    for name in BOOK_FIELDS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), name)
    assert got.rule_events is None and got.unruled_equity is None


def unreachable(portfolios) -> list:
    """Every position with rules that cannot fire: a long's stop at 100 margins of loss (it can
    lose at most its leverage, <= 50, in margins), a short's at the highest price a config takes
    (1e9), and a ladder that needs a price <= 0 (a long's fall of 100 %, a short's gain of
    100 %); the cross-flagged ones a top-up too, which never moves money: the wallet is exactly
    the margins (no free balance in isolated mode), they share the cross bucket in the other
    modes (a top-up there is ignored) and no isolated-flagged position has one to draw on the
    cross bucket in as_configured."""
    out = []
    for port in portfolios:
        positions = []
        for p in port.positions:
            long = p.side == "long"
            rule = {
                "stop_loss": StopLoss(margin_fraction=100.0) if long else StopLoss(price=1e9),
                "reduce": (
                    ReduceStep(move=1.0, close=0.5, direction="against" if long else "favour"),
                ),
            }
            if p.margin_mode == "cross":
                rule["top_up"] = TopUp(at_margin_ratio=1.0, max_times=5)
            positions.append(replace(p, **rule))
        wallet = sum(p.margin for p in positions)  # the sum the layout's free balance subtracts
        out.append(portfolio(positions, wallet, name=port.name))
    return out


def longs_with_a_far_hard_stop(d, s0):
    """Longs only, wallet 3 x their notional N: equity >= 2 N less funding (at most 0.2 % at 81
    boundaries on prices below 3x: under 0.5 N), so a hard stop at 0.2 N cannot fire."""
    port = random_portfolio(d, s0, "longs", rules=False)
    positions = [replace(p, side="long") for p in port.positions]
    notional = sum(p.entry_notional for p in positions)
    return portfolio(positions, 3 * notional, HardStop(equity=0.2 * notional), "longs")


@pytest.mark.parametrize("seed", SEEDS)
def test_rules_that_cannot_fire_change_nothing_bit_for_bit(seed):
    d = NumpyDraw(seed)
    case = random_case(d, rules=False)
    assert (case.prices / case.s0).max() < 3.0  # the premise of the far hard stop
    ports = [*unreachable(case.portfolios), longs_with_a_far_hard_stop(d, case.s0)]
    ruled = build_layout(ports, case.modes, case.tables, case.s0)
    bare = build_layout(stripped(ports), case.modes, case.tables, case.s0)
    assert ruled.rules is not None and bare.rules is None
    got = evaluate_prices(ruled, case.market, case.prices)
    want = evaluate_prices(bare, case.market, case.prices)
    for name in (*BOOK_FIELDS, "partial_closes", "adl_closed"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), name)
    ev = got.rule_events
    assert not (ev.stops.any() or ev.reduces.any() or ev.top_ups.any() or ev.top_up_amount.any())
    steps = (ev.stop_step, ev.reduce_step, ev.top_up_step, ev.hard_stop_step)
    assert all((s == -1).all() for s in steps)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_unruled_results_are_the_same_books_without_rules(seed):
    case = random_case(NumpyDraw(seed))
    got = evaluate_prices(case.layout, case.market, case.prices)
    bare = build_layout(stripped(case.portfolios), case.modes, case.tables, case.s0)
    want = evaluate_prices(bare, case.market, case.prices)
    np.testing.assert_array_equal(got.unruled_equity, want.final_equity)
    np.testing.assert_array_equal(got.unruled_liq_step, want.first_liq_step)


# --- invariants ------------------------------------------------------------------------------


def single_positions(seed: int, n: int = 16):
    """n one-position portfolios on one asset (mmr 0.5 %), each with a stop at half its margin
    of loss, a fee, a book half the time, and 16 paths of 480 fine steps with rare jumps."""
    d = NumpyDraw(seed)
    s0 = np.array([d.uniform(20.0, 5_000.0)])
    ports = []
    for i in range(n):
        side, lev = d.choice(["long", "short"]), d.uniform(2.0, 50.0)
        p = position(
            0, 0, s0, side, d.uniform(1e3, 5e4), lev, stop_loss=StopLoss(margin_fraction=0.5)
        )
        ports.append(portfolio([p], p.margin * d.uniform(1.0, 3.0), name=f"b{i}"))
    layout = build_layout(ports, ["isolated", "cross"], [TierTable.flat(0.005, 100.0)], s0)
    market = random_market(d, 1, 481)
    market = replace(market, funding=np.zeros(481), process=DEFAULT_PROCESS, liquidation_fee=0.01)
    return layout, market, gbm_paths(seed, s0, 16, 480, 0.002, jump_p=0.005, jump_sd=0.03)


def test_a_stop_at_half_the_margin_bounds_the_position_loss():
    # The stop fires at the first mark where the loss reaches 0.5 x margin: the mark before, it
    # was below that, so the loss is at most 0.5 x margin + q x one step's adverse move + the
    # close's slippage (at most that of the notional at the path's high). The venue comes first
    # only where its liquidation loss, margin - maintenance (>= 0.75 x margin at mmr 0.5 % and
    # leverage <= 50), is below the stop's: never here.
    fired = total = 0
    for seed in SEEDS:
        layout, market, prices = single_positions(seed)
        got = evaluate_prices(layout, market, prices)
        assert not got.pos_liquidated.any()
        for k, book in enumerate(layout.books):
            p = book.positions[0]
            high = p.quantity * prices[:, :, 0].max(axis=1)
            slip = 0.0 if market.liquidity is None else slippage_cost(high, 0, market.liquidity)
            bound = 0.5 * p.margin + p.quantity * max_adverse(prices, 0, p.side) + slip
            assert (got.loss(layout)[:, k] <= bound + 1e-9 * layout.book_wallet[k]).all()
        fired += (got.rule_events.stops > 0).sum()
        total += got.rule_events.stops.size
    assert fired > 0.2 * total  # the bound is about stopped paths


def test_a_hard_stop_bounds_the_book_loss():
    # At the mark before the stop fires the book's equity was above (1 - f) x E0; since then it
    # lost at most every position's quantity times one step's adverse move and the liquidation
    # fees paid (no book: the trader's closes cost nothing, top-ups move money within the book).
    fired = total = 0
    for seed in SEEDS:
        d = NumpyDraw(seed)
        case, f = random_case(d), d.uniform(0.05, 0.3)
        ports = [replace(p, hard_stop=HardStop(drawdown=f)) for p in case.portfolios]
        layout = build_layout(ports, case.modes, case.tables, case.s0)
        market = replace(case.market, funding=case.market.funding * 0.0, liquidity=None)
        market = replace(market, process=DEFAULT_PROCESS)  # the residual to the trader
        got = evaluate_prices(layout, market, case.prices)
        bound = f * layout.book_initial_equity + got.fees_paid
        for k, book in enumerate(layout.books):
            for p in book.positions:
                bound[:, k] += p.quantity * max_adverse(case.prices, p.asset_index, p.side)
        assert (got.loss(layout) <= bound + 1e-9 * case.scale).all()
        fired += (got.rule_events.hard_stop_step >= 0).sum()
        total += got.rule_events.hard_stop_step.size
    assert fired > 0.1 * total


def with_top_ups(d, ports) -> list:
    """Every position with a random top-up, twice the wallet (a free balance), no hard stop."""
    out = []
    for port in ports:
        positions = []
        for p in port.positions:
            top = TopUp(
                at_margin_ratio=d.uniform(0.3, 1.0),
                amount=d.choice(["initial", 0.25 * p.margin]),
                max_times=d.integer(1, 4),
            )
            positions.append(replace(p, top_up=top))
        out.append(
            replace(port, positions=tuple(positions), wallet=2 * port.wallet, hard_stop=None)
        )
    return out


def test_top_ups_never_bring_a_liquidation_forward_in_isolated_books():
    # Path by path: a position liquidated with its top-ups is liquidated without them, the book's
    # first liquidation no later (its other rules, stops and ladders, act alike in both). Not so
    # in as_configured books: a top-up may take the cross bucket's whole surplus, leaving its
    # equity at its maintenance, which the venue liquidates at the same mark. Cross books have
    # no isolated bucket (top-ups never fire); hard stops are left out (they close on equity).
    saved = 0
    for seed in SEEDS:
        d = NumpyDraw(seed)
        case = random_case(d)
        ports = with_top_ups(d, case.portfolios)
        topped = build_layout(ports, ["isolated"], case.tables, case.s0)
        bare = build_layout(without(ports, top_up=None), ["isolated"], case.tables, case.s0)
        a = evaluate_prices(topped, case.market, case.prices)
        b = evaluate_prices(bare, case.market, case.prices)
        assert not (a.pos_liquidated & ~b.pos_liquidated).any()
        first_a, first_b = a.first_liq_step, b.first_liq_step
        assert ((first_a < 0) | ((first_b >= 0) & (first_b <= first_a))).all()
        saved += (b.pos_liquidated & ~a.pos_liquidated).sum()
    assert saved > 0  # top-ups did save some
