"""How a venue closes a bucket that breaches its maintenance: the liquidation processes.

A breach is a step where the bucket's equity (collateral + unrealised PnL - funding paid) is at
or below its maintenance, as in `stress.margin.kernels`. What happens then
(``exchange.liquidation.process``):

* ``full_close`` (Binance): every position of the bucket is closed at once. The fee is
  ``liquidation_fee x notional`` at the mark, paid out of what equity there is after slippage;
  bad debt is what the equity lacks after slippage, ``max(0, -equity)``; the rest goes to the
  trader (``residual: trader``) or to the venue's insurance fund (``residual: venue``: the trader
  keeps 0).
* ``tier_step_down`` (Bybit, OKX): each position above the lowest ``full_close_tiers`` tiers is
  cut to the cap of its next lower tier (the fee on the closed part, its realised PnL, net of
  slippage and fee, booked into the bucket's collateral) and the bucket is checked again at the
  next step; a breach with every position in the lowest tiers, or with negative equity, is a
  full close as above.
* ``slices`` (Hyperliquid): when equity < ``backstop`` x maintenance the venue's backstop takes
  the whole bucket at the mark and the trader keeps nothing (no fee; bad debt if the equity is
  negative). Otherwise each position above ``slice_above_usd`` is reduced by ``slice_fraction``
  of its size and the ones at or below it are closed whole (the fee, as configured, on the
  closed notional); the next slice waits ``cooldown_steps`` steps (at least one). A slice that
  would leave no position is a full close whose residual goes to the trader.
* ``fillable_price`` (dYdX): a full close whose fill is at most ``fill_maintenance_multiple``
  maintenance margins of each position from its mark: its slippage is
  ``min(impact x notional, multiple x maintenance)``; the fee is ``min(fee x notional,
  leftover)``; the rest goes to the trader (or the venue, with ``residual: venue``).

A partial close that leaves the bucket with negative equity (slippage can) is followed by a full
close of the rest at the same step. Slippage (`stress.margin.slippage`) applies to every close
but the backstop's. Positions keep their entry price when cut: the closed part's PnL is realised
into the collateral and the rest stays unrealised.

Results: the liquidation step is the first breach (the first partial or full close), the
trigger the position that moved most against the bucket then; the value is what the trader
keeps after a full close, else the equity at the horizon; fees paid add up every close's fee;
bad debt is the final close's. Per bucket and path the partial closes are counted and their
notional (at the mark) summed.

This module holds the rules (`Process`, built from the config) and the compiled closes;
`stress.margin.process_kernels` marks buckets with them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from stress.config.schema import Config
from stress.margin.kernels import CACHE, maintenance_nb
from stress.margin.slippage import impact_nb, slippage_cost_nb

FULL_CLOSE, TIER_STEP_DOWN, SLICES, FILLABLE_PRICE = 0, 1, 2, 3
PROCESS_CODES = {
    "full_close": FULL_CLOSE,
    "tier_step_down": TIER_STEP_DOWN,
    "slices": SLICES,
    "fillable_price": FILLABLE_PRICE,
}


class Process(NamedTuple):
    """The liquidation process as the kernels read it (see the module docstring)."""

    kind: int  # FULL_CLOSE, TIER_STEP_DOWN, SLICES or FILLABLE_PRICE
    residual_to_trader: bool  # full closes: the trader keeps what is left after the fee
    full_close_tiers: int  # tier_step_down: a breach in tiers below this index is a full close
    slice_above: float  # slices: notional above which a position is cut, not closed whole
    slice_fraction: float  # slices: share of a large position closed per slice
    cooldown_steps: int  # slices: steps from one slice to the next, >= 1
    backstop: float  # slices: equity < backstop x maintenance hands the bucket to the venue
    fill_multiple: float  # fillable_price: slippage capped at this many maintenance margins


DEFAULT_PROCESS = Process(FULL_CLOSE, True, 1, 100_000.0, 0.2, 1, 2.0 / 3.0, 1.5)
"""Today's close: the whole bucket at once, the residual to the trader."""


def cooldown_steps(seconds: float, step_hours: float) -> int:
    """Steps a cooldown of `seconds` lasts: whole steps, rounded up, at least one."""
    steps = round(seconds / (step_hours * 3600.0), 9)  # a whole number of steps stays whole
    return max(1, math.ceil(steps))


def process_of(cfg: Config, step_hours: float) -> Process:
    """The kernels' view of ``exchange.liquidation``."""
    liq = cfg.exchange.liquidation
    return Process(
        kind=PROCESS_CODES[liq.process],
        residual_to_trader=liq.residual == "trader",
        full_close_tiers=int(liq.full_close_tiers),
        slice_above=float(liq.slice_above_usd),
        slice_fraction=float(liq.slice_fraction),
        cooldown_steps=cooldown_steps(liq.cooldown_seconds, step_hours),
        backstop=float(liq.backstop),
        fill_multiple=float(liq.fill_maintenance_multiple),
    )


@njit(cache=CACHE, inline="always")
def tier_of_nb(notional, a, tiers):
    """Index of the tier a notional falls in (the one `maintenance_nb` reads)."""
    last = tiers.count[a] - 1
    i = 0
    while i < last and notional > tiers.cap[a, i]:
        i += 1
    return i


@njit(cache=CACHE, inline="always")
def close_cost_nb(n, a, tiers, process, liquidity):
    """What the venue's whole close of notional `n` on asset `a` (which has a book) gives away
    against the mark: its impact, capped under ``fillable_price`` at the fill multiple of the
    position's maintenance."""
    c = impact_nb(n, a, liquidity) * n
    if process.kind == FILLABLE_PRICE:
        c = min(c, process.fill_multiple * maintenance_nb(n, a, tiers))
    return c


@njit(cache=CACHE)
def close_all_nb(prices, t, equity, b, market, buckets, tiers, process, liquidity):
    """Close every position of bucket `b` at step t: (kept, bad debt, fee paid).

    ``equity`` is the bucket's equity at the mark; the slippage of every position is summed
    first, in order, and taken from it.
    """
    pos_asset, pos_qty = buckets.pos_asset, buckets.pos_qty
    cost = 0.0
    notional = 0.0
    for p in range(buckets.bucket_start[b], buckets.bucket_end[b]):
        a = pos_asset[p]
        n = abs(pos_qty[p]) * prices[t, a]
        notional += n
        if liquidity.liquid[a]:
            cost += close_cost_nb(n, a, tiers, process, liquidity)
    eq = equity - cost
    fee = market.liquidation_fee * notional
    kept = max(eq - fee, 0.0) if process.residual_to_trader else 0.0
    return kept, max(-eq, 0.0), min(fee, max(eq, 0.0))


@njit(cache=CACHE, inline="always")
def cut_nb(prices, t, j, new_q, eq, local, market, liquidity):
    """Cut position j of a bucket's local copy to `new_q` at step t: (equity after, notional
    closed, fee paid). The closed part's PnL at the mark, less slippage and fee, goes into the
    collateral; the fee is paid out of the equity left after slippage."""
    q = local.pos_qty[j]
    a = local.pos_asset[j]
    price = prices[t, a]
    dq = q - new_q
    n = abs(dq) * price
    cost = slippage_cost_nb(n, a, liquidity)
    eq = eq - cost
    fee_paid = min(market.liquidation_fee * n, max(eq, 0.0))
    eq = eq - fee_paid
    local.bucket_collateral[0] += (dq * (price - local.pos_entry[j]) - cost) - fee_paid
    local.pos_qty[j] = new_q
    return eq, n, fee_paid


@njit(cache=CACHE)
def step_down_nb(prices, t, eq, local, market, tiers, process, liquidity, closed, first):
    """Cut every position above the lowest tiers to its next lower tier's cap.

    Returns (equity after, notional closed, fees paid); notional closed is -1.0 when every
    position is in the lowest tiers (the breach is a full close) and nothing was done.
    """
    pos_asset, pos_qty = local.pos_asset, local.pos_qty
    n_pos = local.bucket_end[0]
    low = process.full_close_tiers
    if not any_above_nb(prices, t, local, tiers, low):
        return eq, -1.0, 0.0
    closed_n = 0.0
    fees = 0.0
    for j in range(n_pos):
        q = pos_qty[j]
        a = pos_asset[j]
        price = prices[t, a]
        i = tier_of_nb(abs(q) * price, a, tiers)
        if q == 0.0 or i < low:
            continue
        cap = tiers.cap[a, i - 1]
        keep = cap / price
        if keep * price > cap:  # land in the lower tier, not an ulp above its cap
            keep = np.nextafter(keep, 0.0)
        eq, n, fee = cut_nb(prices, t, j, keep if q > 0.0 else -keep, eq, local, market, liquidity)
        closed_n += n
        fees += fee
        closed[first + j] = True
    return eq, closed_n, fees


@njit(cache=CACHE, inline="always")
def any_above_nb(prices, t, local, tiers, low):
    """Whether some open position of the local bucket is in a tier at or above index `low`."""
    for j in range(local.bucket_end[0]):
        q = local.pos_qty[j]
        a = local.pos_asset[j]
        if q != 0.0 and tier_of_nb(abs(q) * prices[t, a], a, tiers) >= low:
            return True
    return False


@njit(cache=CACHE)
def slice_nb(prices, t, eq, local, market, process, liquidity, closed, first):
    """One slice: positions above ``slice_above`` lose ``slice_fraction`` of their size, the
    others are closed whole.

    Returns (equity after, notional closed, fees paid); notional closed is -1.0 when the slice
    would leave no position (a full close) and nothing was done.
    """
    pos_asset, pos_qty = local.pos_asset, local.pos_qty
    n_pos = local.bucket_end[0]
    keep_share = 1.0 - process.slice_fraction
    leaves_nothing = True
    for j in range(n_pos):
        if abs(pos_qty[j]) * prices[t, pos_asset[j]] > process.slice_above and keep_share > 0.0:
            leaves_nothing = False
    if leaves_nothing:
        return eq, -1.0, 0.0
    closed_n = 0.0
    fees = 0.0
    for j in range(n_pos):
        q = pos_qty[j]
        if q == 0.0:
            continue
        big = abs(q) * prices[t, pos_asset[j]] > process.slice_above
        eq, n, fee = cut_nb(
            prices, t, j, q * keep_share if big else 0.0, eq, local, market, liquidity
        )
        closed_n += n
        fees += fee
        closed[first + j] = True
    return eq, closed_n, fees
