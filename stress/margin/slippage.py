"""What a liquidation close really fills at: the square-root law of market impact.

A close of notional N of a position on asset a is one market order against the asset's book; it
fills at ``mark * (1 - impact)`` for a long (a sell) and ``mark * (1 + impact)`` for a short (a
buy), against the trader, with

    impact(N) = spread_bps / 2 * 1e-4 + k * sigma_daily * sqrt(N / depth_usd)

capped at 1 (a sale cannot fill below zero). The first term crosses half the bid-ask spread; the
second is the square-root law of market impact: the price concession of a large order grows like
the square root of its size relative to the liquidity the market trades, in units of the asset's
daily volatility. Almgren, Thum, Hauptmann and Li ("Direct estimation of equity market impact",
Risk 18(7), 2005) measured it on US equity orders (a power of 3/5 of the size, close to the square
root); Toth, Lemperiere, Deremble, de Lataillade, Kockelkoren and Bouchaud ("Anomalous price impact
and the critical nature of liquidity in financial markets", Phys. Rev. X 1, 021006, 2011) found
the square root on futures and explained it by the vanishing liquidity near the price. Here:

* ``sigma_daily`` is the asset's daily volatility under the path model
  (`stress.paths.daily_vol`), so a wilder asset or model costs more to close;
* ``depth_usd`` stands for the liquidity the close eats into, the notional that moves the price
  by ``k`` daily vols when traded at once (the papers' daily volume, for a close that cannot
  wait). A scenario's ``liquidity_multiplier`` scales it (0.02: a book that lost 98 % of its
  depth, as on 10 October 2025);
* ``k`` (``impact_k``, default 1) is the law's dimensionless prefactor, of order one in both
  papers: a close of the whole depth fills ``k`` daily vols (plus half the spread) from the mark,
  a close of a quarter of it ``k / 2`` daily vols.

The cost of a close against the mark is ``impact(N) * N``; the realised PnL of the closed part
is its PnL at the mark minus that cost (`stress.margin.processes`). Each position's close is its
own order on its own asset's book. A market without a ``liquidity`` block fills at the mark
(a cost of exactly 0); when no market has one and the process is today's full close, the run is
the plain kernel of `stress.margin.kernels`, untouched.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from stress.config.schema import Config
from stress.config.schema import Liquidity as LiquidityConfig
from stress.margin.kernels import CACHE

BPS = 1e-4


class Liquidity(NamedTuple):
    """Per-asset books as the kernels read them, shapes (A,)."""

    liquid: np.ndarray  # bool: the asset has a book (else closes fill at the mark)
    half_spread: np.ndarray  # float64: spread_bps / 2 * 1e-4
    impact_k: np.ndarray  # float64
    sigma_daily: np.ndarray  # float64
    depth: np.ndarray  # float64, USD (1.0 where not liquid, never read)


@njit(cache=CACHE, inline="always")
def impact_nb(notional, a, liquidity):
    """Fraction of the mark a close of `notional` on asset `a` gives away, in [0, 1]."""
    x = liquidity.half_spread[a] + liquidity.impact_k[a] * liquidity.sigma_daily[a] * np.sqrt(
        notional / liquidity.depth[a]
    )
    return min(x, 1.0)


@njit(cache=CACHE, inline="always")
def slippage_cost_nb(notional, a, liquidity):
    """What a close of `notional` on asset `a` costs the trader against the mark (0 without a
    book)."""
    if not liquidity.liquid[a]:
        return 0.0
    return impact_nb(notional, a, liquidity) * notional


def impact(notional, a: int, liquidity: Liquidity):
    """`impact_nb` in numpy, elementwise over `notional` and `a` (the same arithmetic)."""
    x = liquidity.half_spread[a] + liquidity.impact_k[a] * liquidity.sigma_daily[a] * np.sqrt(
        notional / liquidity.depth[a]
    )
    return np.minimum(x, 1.0)


def slippage_cost(notional, a, liquidity: Liquidity):
    """`slippage_cost_nb` in numpy, elementwise (0 where the asset has no book)."""
    return np.where(liquidity.liquid[a], impact(notional, a, liquidity) * notional, 0.0)


def market_liquidity(cfg: Config, asset: str) -> LiquidityConfig | None:
    """The asset's book: its market's ``liquidity``, else the default market's, else None."""
    market = cfg.exchange.markets.get(asset)
    if market is not None and market.liquidity is not None:
        return market.liquidity
    return cfg.exchange.default_market.liquidity


def has_liquidity(cfg: Config) -> bool:
    """Whether any asset of the model has a book (else every close fills at the mark)."""
    return any(market_liquidity(cfg, a) is not None for a in cfg.model.assets)


def liquidity_of(cfg: Config, sigma_daily: np.ndarray) -> Liquidity | None:
    """The kernels' books of the model's assets, or None when no asset has one.

    Parameters
    ----------
    sigma_daily : ndarray (n_assets,), each asset's daily vol (`stress.paths.daily_vol`)
    """
    books = [market_liquidity(cfg, a) for a in cfg.model.assets]
    if all(b is None for b in books):
        return None
    return Liquidity(
        liquid=np.array([b is not None for b in books], dtype=np.bool_),
        half_spread=np.array([0.0 if b is None else b.spread_bps / 2 * BPS for b in books]),
        impact_k=np.array([0.0 if b is None else b.impact_k for b in books]),
        sigma_daily=np.asarray(sigma_daily, dtype=np.float64).copy(),
        depth=np.array([1.0 if b is None else b.depth_usd for b in books]),
    )


def scaled_depth(liquidity: Liquidity | None, multiplier: float | None) -> Liquidity | None:
    """Every book's depth times `multiplier` (a scenario's ``liquidity_multiplier``)."""
    if liquidity is None or multiplier is None:
        return liquidity
    depth = np.where(liquidity.liquid, liquidity.depth * multiplier, liquidity.depth)
    return liquidity._replace(depth=depth)


def with_sigma(liquidity: Liquidity | None, sigma_daily: np.ndarray) -> Liquidity | None:
    """The books with another daily vol (a scenario whose paths have another vol)."""
    if liquidity is None:
        return None
    return liquidity._replace(sigma_daily=np.asarray(sigma_daily, dtype=np.float64).copy())
