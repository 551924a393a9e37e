"""The market rules of a run: funding per step, the liquidation process and the books.

Funding: the configured rate at every funding boundary, and a scenario's spike, both clamped to
the venue's cap on one interval's rate (``exchange.funding.cap``) when there is one. Exact
rational arithmetic decides which step a boundary falls in, so a boundary that lands on a step
is never lost to rounding. The process is `stress.margin.processes`'; the books (and the daily
vol their impact scales with) `stress.margin.slippage`'s.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from stress.config.schema import Config, Scenario
from stress.margin.adl import AdlRules, window_steps
from stress.margin.engine import MarketRules
from stress.margin.processes import process_of
from stress.margin.slippage import has_liquidity, liquidity_of, scaled_depth, with_sigma
from stress.paths.daily_vol import daily_vol
from stress.paths.spec import ModelSpec, TimeGrid


def capped(rate: float, cap: float | None) -> float:
    """A funding rate clamped to [-cap, cap] (unchanged without a cap)."""
    rate = float(rate)
    return rate if cap is None else min(max(rate, -float(cap)), float(cap))


def funding_counts(n_steps: int, steps_per_day: int, interval_hours: float) -> np.ndarray:
    """How many funding boundaries fall in (t_(k-1), t_k] for each step k; step 0 has none.

    Exact rational arithmetic, so a boundary that lands on a step is never lost to rounding.
    """
    step = Fraction(24, steps_per_day) / Fraction(interval_hours)
    k = np.arange(n_steps + 1)
    passed = np.array([(int(i) * step.numerator) // step.denominator for i in k], dtype=np.int64)
    counts = np.zeros(n_steps + 1, dtype=np.int64)
    counts[1:] = np.diff(passed)
    return counts


def market_rules(cfg: Config, grid: TimeGrid, spec: ModelSpec | None = None) -> MarketRules:
    """Funding as a rate per step (the capped rate times the boundaries the step crosses), the
    liquidation process and the markets' books.

    `spec` is the path model, whose daily vol scales the books' impact; it is needed only when
    a market has a ``liquidity`` block.
    """
    ex = cfg.exchange
    counts = funding_counts(grid.n_steps, cfg.simulation.steps_per_day, ex.funding.interval_hours)
    liquidity = None
    if has_liquidity(cfg):
        if spec is None:
            raise ValueError("market_rules: a market has a liquidity block; pass the ModelSpec")
        liquidity = liquidity_of(cfg, daily_vol(spec, grid))
    return MarketRules(
        funding=counts * capped(ex.funding.rate, ex.funding.cap),
        liquidation_fee=float(ex.liquidation_fee),
        process=process_of(cfg, grid.step_hours),
        liquidity=liquidity,
    )


def scenario_rules(
    cfg: Config,
    scenario: Scenario,
    rules: MarketRules,
    grid: TimeGrid,
    spec: ModelSpec | None = None,
    seed: int = 0,
) -> MarketRules:
    """The base market rules with the scenario's funding spike, liquidity and ADL.

    A funding boundary at hour ``t`` (a multiple of ``interval_hours``) is in the spike when
    ``from_hour <= t < from_hour + hours``; its rate, capped like the base rate, is replaced in
    the step it falls in (the same exact arithmetic as `funding_counts`). Every book's depth is
    multiplied by ``liquidity_multiplier``; `spec`, the scenario's path model when it has its
    own (a vol multiplier), gives the books their daily vol. ADL's uniforms come from `seed`,
    the run's (`stress.margin.adl`).
    """
    adl = scenario.adl
    if adl is not None:
        trig = adl.trigger
        rules = dataclasses.replace(
            rules,
            adl=AdlRules(
                asset=list(cfg.model.assets).index(trig.asset),
                move=float(trig.move),
                window=window_steps(trig.within_hours, grid.step_hours),
                probability=float(adl.probability),
                by_rank=bool(adl.by_rank),
                seed=int(seed),
            ),
        )
    liquidity = rules.liquidity
    if spec is not None and liquidity is not None:
        liquidity = with_sigma(liquidity, daily_vol(spec, grid))
    liquidity = scaled_depth(liquidity, scenario.liquidity_multiplier)
    if liquidity is not rules.liquidity:
        rules = dataclasses.replace(rules, liquidity=liquidity)
    spike = scenario.funding_spike
    if spike is None:
        return rules
    funding = cfg.exchange.funding
    interval = Fraction(funding.interval_hours)
    per_step = Fraction(24, cfg.simulation.steps_per_day)
    start, stop = Fraction(spike.from_hour), Fraction(spike.from_hour) + Fraction(spike.hours)
    horizon = per_step * grid.n_steps
    counts = funding_counts(grid.n_steps, cfg.simulation.steps_per_day, funding.interval_hours)
    spiked = np.zeros_like(counts)
    j = max(1, math.ceil(start / interval))
    while j * interval < stop and j * interval <= horizon:
        spiked[math.ceil(j * interval / per_step)] += 1
        j += 1
    # counts times rates, as `market_rules` does: a spiked step charges exactly
    # the spike rate, not the base rate plus a difference
    out = (counts - spiked) * capped(funding.rate, funding.cap) + spiked * capped(
        spike.rate, funding.cap
    )
    return dataclasses.replace(rules, funding=out)
