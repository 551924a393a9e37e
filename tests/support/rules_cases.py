"""Random books with the trader's rules, their markets and paths, for the rules tests.

One generator, `random_case`, reads its choices from a `Draw`: `NumpyDraw` (a seeded generator,
for the invariant tests' fixed seeds) or `HypothesisDraw` (inside a hypothesis strategy, which
then shrinks a failing case to a small one). Books are built straight from resolved positions
(`stress.margin.layout.build_layout`), markets as `stress.margin.engine.MarketRules`: a whole
close (``full_close``, ``fillable_price``) or ``tier_step_down`` (``full_close_tiers`` 1 or 2),
the residual to the trader or the venue, with or without books.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from stress.config.trader import HardStop, ReduceStep, StopLoss, TopUp
from stress.margin.engine import MarketRules
from stress.margin.layout import Layout, build_layout
from stress.margin.processes import DEFAULT_PROCESS, FILLABLE_PRICE, FULL_CLOSE, TIER_STEP_DOWN
from stress.margin.slippage import Liquidity
from stress.margin.trader_rules import RuleEvents
from stress.portfolios.resolve import ResolvedPortfolio, ResolvedPosition
from stress.venues.tiers import TierTable

MODES = ("isolated", "cross", "as_configured")


class NumpyDraw:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]


class HypothesisDraw:
    def __init__(self, draw):
        self.draw = draw

    def uniform(self, lo: float, hi: float) -> float:
        return self.draw(st.floats(lo, hi))

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, options):
        return self.draw(st.sampled_from(options))


class Case(NamedTuple):
    portfolios: list
    modes: list
    tables: list
    s0: np.ndarray
    market: MarketRules
    prices: np.ndarray

    @property
    def layout(self) -> Layout:
        return build_layout(self.portfolios, self.modes, self.tables, self.s0)

    @property
    def scale(self) -> float:
        """The size of the largest book: wallet plus notionals (for absolute tolerances)."""
        return max(p.wallet + sum(x.entry_notional for x in p.positions) for p in self.portfolios)


def position(i, asset, s0, side, notional, leverage, *, mode="isolated", extra=1.0, entry=None,
             **rules) -> ResolvedPosition:  # fmt: skip
    """A resolved position of `notional` at `entry` (default: the mark), margin `extra` initial
    margins, with rules (`stop_loss`, `reduce`, `top_up`)."""
    entry = float(s0[asset] if entry is None else entry)
    qty = notional / entry
    return ResolvedPosition(
        f"p{i}", f"A{asset}", asset, side, qty, entry, float(leverage), mode,
        qty * entry / leverage * extra, **rules,
    )  # fmt: skip


def portfolio(positions, wallet: float, hard_stop: HardStop | None = None, name="book"):
    return ResolvedPortfolio(name, float(wallet), tuple(positions), hard_stop=hard_stop)


def without(portfolios, **cleared) -> list:
    """The portfolios with rules cleared on every position (e.g. ``top_up=None``)."""
    return [
        replace(p, positions=tuple(replace(x, **cleared) for x in p.positions)) for p in portfolios
    ]


def stripped(portfolios) -> list:
    """The portfolios with no rule at all: no stop, ladder, top-up or hard stop."""
    bare = without(portfolios, stop_loss=None, reduce=(), top_up=None)
    return [replace(p, hard_stop=None) for p in bare]


def table(d, steps: bool = False) -> TierTable:
    """A flat rate or a few tiers; for ``tier_step_down`` (`steps`) always 3-5 tiers with caps
    within the notionals' range (1e3-5e4), so positions open above the lowest tiers and step
    down through several."""
    if not steps and d.choice([True, False]):
        return TierTable.flat(d.uniform(0.002, 0.008), 100.0)
    lo, hi, n = (1e3, 4e4, d.integer(2, 4)) if steps else (5e3, 1e5, d.integer(1, 3))
    caps = sorted(d.uniform(lo, hi) for _ in range(n)) + [math.inf]
    mmrs = [0.004 + 0.002 * i for i in range(len(caps))]
    jump = d.choice([None, 0.0, 5.0])  # hand-written amounts: maintenance jumps at the caps
    amounts = None if jump is None else [0.0] + [jump * (i + 1) for i in range(len(caps) - 1)]
    return TierTable.build(caps, mmrs, [100.0] * len(caps), amounts)


def random_rules(d, side: str, entry: float) -> dict:
    """Rules of every kind, near enough to fire on a few per cent moves."""
    rules: dict = {}
    kind = d.choice(["none", "price", "fraction"])
    if kind == "price":
        u = d.uniform(0.002, 0.08)
        rules["stop_loss"] = StopLoss(price=entry * (1 - u if side == "long" else 1 + u))
    elif kind == "fraction":
        rules["stop_loss"] = StopLoss(margin_fraction=d.uniform(0.1, 1.2))
    rungs = []
    for _ in range(d.integer(0, 3)):
        close = d.choice([0.25, 0.3, 0.5, 0.7, 1.0, -1.0])
        close = d.uniform(0.05, 1.0) if close < 0 else close
        direction = d.choice(["against", "favour"])
        rungs.append(ReduceStep(move=d.uniform(0.002, 0.08), close=close, direction=direction))
    rules["reduce"] = tuple(rungs)
    if d.choice([True, False]):
        amount = d.choice(["initial", -1.0])
        rules["top_up"] = TopUp(
            at_margin_ratio=d.uniform(0.3, 1.0),
            amount=amount if amount == "initial" else d.uniform(10.0, 2_000.0),
            max_times=d.integer(1, 4),
            cap=d.uniform(50.0, 3_000.0) if d.choice([True, False]) else None,
        )
    return rules


def random_portfolio(d, s0, name: str, rules: bool = True) -> ResolvedPortfolio:
    positions = []
    for i in range(d.integer(1, 4)):
        a, side = d.integer(0, len(s0) - 1), d.choice(["long", "short"])
        entry = s0[a] * d.choice([1.0, -1.0])
        entry = s0[a] * d.uniform(0.99, 1.01) if entry < 0 else entry
        lev = d.uniform(2.0, 50.0)
        more = random_rules(d, side, entry) if rules else {}
        positions.append(
            position(i, a, s0, side, d.uniform(1e3, 5e4), lev, mode=d.choice(["isolated", "cross"]),
                     extra=d.choice([1.0, 1.5]), entry=entry, **more)
        )  # fmt: skip
    wallet = sum(p.margin for p in positions) * d.uniform(1.0, 2.5)
    stop = None
    if rules and d.choice([True, False]):
        stop = d.choice([HardStop(drawdown=d.uniform(0.02, 0.5)), None])
        stop = stop or HardStop(equity=wallet * d.uniform(0.5, 0.98))
    return portfolio(positions, wallet, stop, name)


def random_market(d, n_assets: int, n_times: int, kind: int | None = None) -> MarketRules:
    """Random funding, fee, process (`kind`, if given, replaces the drawn one) and books."""
    funding = np.zeros(n_times)
    if d.choice([True, False]):  # a rate per boundary, at step 0 too now and then
        every = d.choice([4, 8])
        for t in range(d.choice([0, every]), n_times, every):
            funding[t] = d.uniform(-0.002, 0.002)
    drawn = d.choice([FULL_CLOSE, FILLABLE_PRICE, TIER_STEP_DOWN])
    kind = drawn if kind is None else kind
    process = DEFAULT_PROCESS._replace(
        kind=kind,
        residual_to_trader=d.choice([True, False]),
        fill_multiple=d.uniform(0.3, 3.0),
        full_close_tiers=d.choice([1, 2]),
    )
    liquidity = None
    if d.choice([True, False]):
        liquid = np.array([d.choice([True, False]) for _ in range(n_assets)])
        liquid[d.integer(0, n_assets - 1)] = True

        def per_asset(lo, hi):
            return np.array([d.uniform(lo, hi) for _ in range(n_assets)])

        depth = np.where(liquid, per_asset(2e4, 2e6), 1.0)
        liquidity = Liquidity(liquid, per_asset(0.0, 1e-3), per_asset(0.5, 2.0),
                              per_asset(0.02, 0.08), depth)  # fmt: skip
    fee = d.choice([0.0, 0.005, 0.01])
    return MarketRules(funding, fee, process, liquidity)


def gbm_paths(seed, s0, n_paths, n_steps, vol, jump_p=0.02, jump_sd=0.08) -> np.ndarray:
    """Driftless log-normal steps of `vol`, with jumps of `jump_sd` with probability `jump_p`."""
    rng = np.random.default_rng(seed)
    shape = (n_paths, n_steps, len(s0))
    steps = rng.normal(-0.5 * vol**2, vol, shape)
    steps += np.where(rng.random(shape) < jump_p, rng.normal(0.0, jump_sd, shape), 0.0)
    logs = np.concatenate([np.zeros((n_paths, 1, len(s0))), np.cumsum(steps, axis=1)], axis=1)
    return np.asarray(s0)[None, None, :] * np.exp(logs)


def random_case(d, *, rules: bool = True, kind: int | None = None) -> Case:
    s0 = np.array([d.uniform(20.0, 5_000.0) for _ in range(d.integer(1, 2))])
    ports = [random_portfolio(d, s0, f"b{k}", rules) for k in range(d.integer(1, 2))]
    if rules and not any(p.has_rules for p in ports):  # a case with rules has one at least
        ports[0] = replace(ports[0], hard_stop=HardStop(drawdown=d.uniform(0.02, 0.5)))
    modes = [m for m in MODES if d.choice([True, False])] or [d.choice(list(MODES))]
    n_steps = d.choice([48, 96, 320])  # 320: long enough for stretches the kernel may skip
    prices = gbm_paths(d.integer(0, 2**31), s0, 4, n_steps, d.uniform(0.001, 0.015))
    market = random_market(d, len(s0), n_steps + 1, kind)
    steps = market.process.kind == TIER_STEP_DOWN
    return Case(ports, modes, [table(d, steps) for _ in s0], s0, market, prices)


@st.composite
def rule_cases(draw) -> Case:
    return random_case(HypothesisDraw(draw))


def max_adverse(prices: np.ndarray, asset: int, side: str) -> np.ndarray:
    """The largest one-step move against a position of `side`, per path (>= 0)."""
    moves = np.diff(prices[:, :, asset], axis=1)
    return np.maximum((-moves if side == "long" else moves).max(axis=1), 0.0)


def assert_agree(got, ref, scale: float) -> None:
    """Engine (`PathResults` with `rule_events`) == reference (`RefResults`): amounts to 1e-9
    relative (of the book's size near 0), steps, counts and flags exactly; partial closes too
    (none under a whole-close process)."""
    for name in ("final_equity", "bad_debt", "fees_paid"):
        np.testing.assert_allclose(
            getattr(got, name), getattr(ref, name), rtol=1e-9, atol=1e-9 * scale, err_msg=name
        )
    np.testing.assert_array_equal(got.first_liq_step, ref.first_liq_step, "first_liq_step")
    np.testing.assert_array_equal(got.pos_liquidated, ref.pos_liquidated, "pos_liquidated")
    events = got.rule_events
    if events is None:  # no rule at all: the plain kernels ran, and nothing can have fired
        events = RuleEvents(*(np.where(x < 0, x, 0) for x in ref.rule_events))
    for name in RuleEvents._fields:
        a, b = getattr(events, name), getattr(ref.rule_events, name)
        if name == "top_up_amount":
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * scale, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, name)
    if got.partial_closes is None:  # a whole-close process: the reference cut nothing
        assert not ref.partial_closes.any() and not ref.partial_notional.any()
    else:
        np.testing.assert_array_equal(got.partial_closes, ref.partial_closes, "partial_closes")
        np.testing.assert_allclose(
            got.partial_notional, ref.partial_notional, rtol=1e-9, atol=1e-9 * scale,
            err_msg="partial_notional",
        )  # fmt: skip
    np.testing.assert_array_equal(got.pos_liquidated, ref.pos_liquidated, "pos_liquidated")
    np.testing.assert_array_equal(got.pos_triggered, ref.pos_triggered, "pos_triggered")
