"""Stress scenarios: what-if variations of the base run on the same random numbers.

A scenario (config ``scenarios:``) changes one or more of

- prices: a ``shock`` multiplies every simulated path of one asset by a deterministic factor
  (a flash crash, optionally recovering: a wick), so each scenario path is its base path bent;
- the model: ``vol_multiplier`` and ``correlation_toward_one`` regenerate the paths from the same
  seed, hence the same normal draws, with vol * k and corr' = (1 - w) corr + w * ones;
- funding: ``funding_spike`` charges another rate at the funding boundaries inside a window;
- the venue: ``liquidity_multiplier`` thins every order book, ``adl`` closes winning positions
  when a market-wide move fires (`stress.margin.adl`), from uniforms drawn here
  (`adl_uniforms`) on a stream of their own.

Everything else (portfolios, books, seed, path blocks) is the base run's, so the difference
between a scenario and the base is paired path by path (common random numbers).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator

import numpy as np

from stress.config.schema import Config, Scenario, Shock
from stress.errors import fail
from stress.paths.generate import BLOCK_PATHS
from stress.paths.spec import ModelSpec, TimeGrid

_SNAP = 1e-9
"""Ramp values this close to 0 or 1 are snapped there, so that a shock that is over leaves the
price exactly at its target (1 + move) or exactly on the unshocked path (factor 1.0)."""


def step_hours(grid: TimeGrid, steps_per_day: int) -> np.ndarray:
    """Time of every mark in hours, shape (n_steps + 1,); exact integers / steps_per_day."""
    return np.arange(grid.n_steps + 1, dtype=np.float64) * 24.0 / steps_per_day


def shock_ramp(shock: Shock, hours: np.ndarray) -> np.ndarray:
    """Share of the log move applied at each mark, in [0, 1], shape like ``hours``.

    Linear in time from ``at_hour`` to ``at_hour + over_hours`` (a gap when ``over_hours`` is 0:
    the mark at ``at_hour`` is the first one moved), then held, or, with ``recover_hours``,
    brought back linearly to 0 (the unshocked path) over that many hours.
    """
    start, end = shock.at_hour, shock.at_hour + shock.over_hours
    if shock.over_hours > 0:
        ramp = np.clip((hours - start) / shock.over_hours, 0.0, 1.0)
    else:
        ramp = (hours >= start).astype(np.float64)
    if shock.recover_hours is not None:
        if shock.recover_hours > 0:
            back = np.clip(1.0 - (hours - end) / shock.recover_hours, 0.0, 1.0)
        else:  # back on the unshocked path at the first mark after the move
            back = (hours <= end).astype(np.float64)
        ramp = np.minimum(ramp, back)
    ramp[np.abs(ramp) < _SNAP] = 0.0
    ramp[np.abs(ramp - 1.0) < _SNAP] = 1.0
    return ramp


def price_factor(cfg: Config, scenario: Scenario, grid: TimeGrid) -> np.ndarray | None:
    """Multiplier of every mark, shape (n_steps + 1, n_assets); None without shocks.

    The move is interpolated in log price, so a -25 % move over 4 hours falls by the same ratio
    every hour, and shocks on one asset compound.
    """
    shocks = scenario.all_shocks()
    if not shocks:
        return None
    names = list(cfg.model.assets)
    hours = step_hours(grid, cfg.simulation.steps_per_day)
    log_factor = np.zeros((grid.n_steps + 1, len(names)))
    for _, shock in shocks:
        log_factor[:, names.index(shock.asset)] += math.log1p(shock.move) * shock_ramp(shock, hours)
    # exp(0.0) is exactly 1.0, so marks outside every shock are the base marks bit for bit
    return np.exp(log_factor)


def scenario_spec(spec: ModelSpec, scenario: Scenario) -> ModelSpec:
    """The base model with the scenario's vol multiplier and correlation push applied.

    The generators draw the same normals whatever vol and correlation are, so the regenerated
    paths share the base run's random numbers.
    """
    vol, corr = spec.vol, spec.corr
    if scenario.vol_multiplier is not None:
        vol = vol * scenario.vol_multiplier
    if scenario.correlation_toward_one is not None:
        w = scenario.correlation_toward_one
        # a convex mix of two correlation matrices is one: unit diagonal, PSD (singular at w = 1)
        corr = (1.0 - w) * corr + w * np.ones_like(corr)
        np.fill_diagonal(corr, 1.0)
    return dataclasses.replace(spec, vol=vol, corr=corr)


def changes_paths(scenario: Scenario) -> bool:
    """Whether the scenario needs freshly generated paths (not just the base ones bent)."""
    return scenario.vol_multiplier is not None or scenario.correlation_toward_one is not None


def shocked_chunks(
    chunks: Iterable[tuple[int, np.ndarray]], factor: np.ndarray | None
) -> Iterator[tuple[int, np.ndarray]]:
    """Multiply each chunk of prices (m, n_steps + 1, n_assets) by ``factor`` in place."""
    for first, prices in chunks:
        if factor is not None:
            prices *= factor
        yield first, prices


ADL_STREAM = 0xAD1
"""First spawn-key entry of the ADL uniforms' blocks: ``(ADL_STREAM, block)``, two entries, never
a price block's one-entry key ``(block,)`` (`stress.paths.generate.block_rng`)."""


def adl_uniforms(seed: int, first: int, n_paths: int, n_positions: int) -> np.ndarray:
    """ADL's uniforms of paths ``[first, first + n_paths)``, shape (n_paths, n_positions).

    Drawn per block of ``BLOCK_PATHS`` paths, always for the whole block, from
    ``SeedSequence(seed, spawn_key=(ADL_STREAM, block))``: a path's draws depend only on the
    seed, its index and the number of positions, never on the chunk size or the thread count.
    """
    out = np.empty((n_paths, n_positions))
    i = 0
    while i < n_paths:
        block, offset = divmod(first + i, BLOCK_PATHS)
        seq = np.random.SeedSequence(seed, spawn_key=(ADL_STREAM, block))
        draws = np.random.default_rng(seq).random((BLOCK_PATHS, n_positions))
        take = min(BLOCK_PATHS - offset, n_paths - i)
        out[i : i + take] = draws[offset : offset + take]
        i += take
    return out


def describe(cfg: Config, scenario: Scenario) -> str:
    """The scenario's own description, or one written from its effects."""
    if scenario.description:
        return scenario.description
    parts = []
    for _, s in scenario.all_shocks():
        how = f"over {s.over_hours:g} h" if s.over_hours > 0 else "as a gap"
        text = f"{s.asset} {s.move:+.1%} {how} at hour {s.at_hour:g}"
        if s.recover_hours is not None:
            text += f", back to the unshocked path over {s.recover_hours:g} h"
        parts.append(text)
    if scenario.vol_multiplier is not None:
        parts.append(f"vol x{scenario.vol_multiplier:g}")
    if scenario.correlation_toward_one is not None:
        parts.append(f"correlations {scenario.correlation_toward_one:.0%} of the way to 1")
    if scenario.liquidity_multiplier is not None:
        parts.append(f"order-book depth x{scenario.liquidity_multiplier:g}")
    spike = scenario.funding_spike
    if spike is not None:
        parts.append(
            f"funding {spike.rate:+.4%} per {cfg.exchange.funding.interval_hours:g} h "
            f"from hour {spike.from_hour:g} for {spike.hours:g} h"
        )
    adl = scenario.adl
    if adl is not None:
        trig = adl.trigger
        how = ", more likely the higher its profit x leverage rank" if adl.by_rank else ""
        parts.append(
            f"ADL when {trig.asset} moves {trig.move:+.1%} within {trig.within_hours:g} h: each "
            f"position in profit closed at the mark with probability {adl.probability:g}{how}"
        )
    return "; ".join(parts)


def check_scenario_assets(cfg: Config) -> None:
    """The assets the scenarios name are the model's (a history model's: from its files)."""
    assets = list(cfg.model.assets)
    for i, sc in enumerate(cfg.scenarios):
        at = f"scenarios[{i}]"
        for where, shock in sc.all_shocks():
            if shock.asset not in cfg.model.assets:
                fail(
                    f"{at}.{where}.asset",
                    f"expected an asset of model.assets ({', '.join(assets)}), got {shock.asset!r}",
                )
        if sc.adl is not None and sc.adl.trigger.asset not in cfg.model.assets:
            fail(
                f"{at}.adl.trigger.asset",
                f"expected an asset of model.assets ({', '.join(assets)}), "
                f"got {sc.adl.trigger.asset!r}",
            )
        if sc.correlation_toward_one is not None and len(assets) < 2:
            fail(
                f"{at}.correlation_toward_one",
                f"needs at least 2 assets in model.assets, got {len(assets)}",
            )
