"""Funding per step: the configured rate at every funding boundary, and a scenario's spike.

Exact rational arithmetic decides which step a boundary falls in, so a boundary that lands on a
step is never lost to rounding.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from stress.config.schema import Config, Scenario
from stress.margin.engine import MarketRules
from stress.paths.spec import TimeGrid


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


def market_rules(cfg: Config, grid: TimeGrid) -> MarketRules:
    """Funding as a rate per step (the configured rate times the boundaries the step crosses)."""
    ex = cfg.exchange
    counts = funding_counts(grid.n_steps, cfg.simulation.steps_per_day, ex.funding.interval_hours)
    return MarketRules(
        funding=counts * float(ex.funding.rate),
        liquidation_fee=float(ex.liquidation_fee),
    )


def scenario_rules(cfg: Config, scenario: Scenario, rules: MarketRules, grid: TimeGrid):
    """The base market rules with the funding spike's rate at the boundaries in its window.

    A funding boundary at hour ``t`` (a multiple of ``interval_hours``) is in the spike when
    ``from_hour <= t < from_hour + hours``; its rate is replaced, in the step it falls in (the
    same exact arithmetic as `funding_counts`).
    """
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
    out = (counts - spiked) * float(funding.rate) + spiked * float(spike.rate)
    return dataclasses.replace(rules, funding=out)
