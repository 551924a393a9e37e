"""Auto-deleveraging (ADL): a scenario's market-wide move closes winning positions at the mark.

A scenario's ``adl`` effect (`stress.config.schema.Adl`) fires on a path at the first step t
>= 1 where the trigger asset's price S satisfies ``S_t / S_(t-w) - 1 <= move`` (a fall, move
< 0) or ``>= move`` (a rise, move > 0), with w = ``within_hours`` in whole steps, rounded up, at
least one (`window_steps`), and S_(t-w) read as S_0 while t < w. At that step every position of
every book in profit at the mark (``q x (S_t - entry) > 0``) is selected with probability p, from
a uniform u pre-drawn per path and position (`stress.paths.scenarios.adl_uniforms`):

* flat (``by_rank: false``): p = ``probability``;
* ``by_rank: true``: the book's n winners are ranked by profit x leverage, the venues' ADL order:
  score = unrealised PnL / entry notional x the position's configured leverage; the lowest score
  has rank 1, the highest rank n (ties: the earlier position ranks lower) and p =
  ``probability x rank / n``, so the top-ranked winner is closed with ``probability``.

Winners and ranks are read from the configured quantities at that step: a bucket liquidated
before it loses its positions to the liquidation, not to ADL, and a partial close earlier
shrinks a position but never changes the sign of its PnL. A selected position still open after
its bucket's liquidation check at that step is closed whole at the mark, with no fee and no
slippage: its PnL is realised into the bucket's collateral (the bucket's equity is unchanged at
that step, its maintenance falls) and the rest of the bucket is marked on, so a cross hedge that
lost its winning leg is left outright exposed. `stress.margin.process_kernels` does the marking.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from stress.margin.kernels import CACHE


class AdlRules(NamedTuple):
    """A scenario's ADL as the engine reads it (``window`` 0: no ADL)."""

    asset: int  # index of the trigger asset in model.assets
    move: float  # the trigger's move, a fraction: < 0 a fall, > 0 a rise
    window: int  # w, steps
    probability: float
    by_rank: bool
    seed: int  # the run's seed, for the uniforms (`stress.paths.scenarios.adl_uniforms`)


class Adl(NamedTuple):
    """The kernels' view: the rules plus the layout's leverage and books' position ranges."""

    asset: int
    move: float
    window: int  # 0: no ADL
    probability: float
    by_rank: bool
    leverage: np.ndarray  # (P,) float64: each position's configured leverage
    book_start: np.ndarray  # (K,) int64: first position of each book
    book_end: np.ndarray  # (K,) int64: one past its last


class AdlResults(NamedTuple):
    """ADL on a chunk of paths."""

    step: np.ndarray  # (n_paths,) int32: the step ADL fired at, -1 when it did not
    closed: np.ndarray  # (n_paths, B) int32: positions of the bucket ADL closed


def window_steps(within_hours: float, step_hours: float) -> int:
    """Steps of the trigger's window: whole steps, rounded up, at least one."""
    steps = round(within_hours / step_hours, 9)  # a whole number of steps stays whole
    return max(1, math.ceil(steps))


NO_ADL = AdlRules(0, 0.0, 0, 0.0, False, 0)


def kernel_adl(rules: AdlRules | None, leverage: np.ndarray, book_start, book_end) -> Adl:
    """The kernels' view of `rules` (None: ADL off) for a layout."""
    r = NO_ADL if rules is None else rules
    return Adl(
        int(r.asset),
        float(r.move),
        int(r.window),
        float(r.probability),
        bool(r.by_rank),
        np.ascontiguousarray(leverage, dtype=np.float64),
        np.ascontiguousarray(book_start, dtype=np.int64),
        np.ascontiguousarray(book_end, dtype=np.int64),
    )


@njit(cache=CACHE)
def adl_step_nb(path, adl):
    """The first step where the trigger fires on one path (n_steps + 1, n_assets), or -1."""
    a = adl.asset
    for t in range(1, path.shape[0]):
        move = path[t, a] / path[max(0, t - adl.window), a] - 1.0
        if (adl.move <= 0.0 and move <= adl.move) or (adl.move > 0.0 and move >= adl.move):
            return t
    return -1


@njit(cache=CACHE)
def adl_select_nb(path, t, buckets, adl, u, select):
    """Flag in `select` (P,) the positions ADL closes at step t, from the path's uniforms u (P,).

    A position is selected when it is in profit at the mark and u < its probability (module
    docstring).
    """
    qty, entry, asset = buckets.pos_qty, buckets.pos_entry, buckets.pos_asset
    select[:] = False
    for k in range(adl.book_start.shape[0]):
        lo, hi = adl.book_start[k], adl.book_end[k]
        n_win = 0
        for p in range(lo, hi):
            if qty[p] * (path[t, asset[p]] - entry[p]) > 0.0:
                n_win += 1
        for p in range(lo, hi):
            pnl = qty[p] * (path[t, asset[p]] - entry[p])
            if pnl <= 0.0:
                continue
            prob = adl.probability
            if adl.by_rank:
                score = pnl / abs(qty[p] * entry[p]) * adl.leverage[p]
                rank = 1
                for r in range(lo, hi):
                    other = qty[r] * (path[t, asset[r]] - entry[r])
                    if r != p and other > 0.0:
                        s = other / abs(qty[r] * entry[r]) * adl.leverage[r]
                        if s < score or (s == score and r < p):
                            rank += 1
                prob = adl.probability * rank / n_win
            select[p] = u[p] < prob


@njit(cache=CACHE)
def adl_close_nb(prices, t, local, select, first):
    """Close the local bucket's selected open positions at the mark of step t: their PnL goes
    into the collateral, no fee, no slippage. `first`: the index in `select` of the local
    bucket's first position. Returns how many were closed."""
    n = 0
    for j in range(local.bucket_end[0]):
        q = local.pos_qty[j]
        if select[first + j] and q != 0.0:
            price = prices[t, local.pos_asset[j]]
            local.bucket_collateral[0] += q * (price - local.pos_entry[j])
            local.pos_qty[j] = 0.0
            n += 1
    return n


def adl_after_liquidation(step: np.ndarray, liq_step: np.ndarray, closed: np.ndarray, layout):
    """Per book (n_paths, K): ADL positions closed, and whether a bucket of the book was first
    liquidated after an ADL close of the book (step (n_paths,), per bucket arrays (n_paths, B))."""
    first = layout.book_first_bucket
    count = np.add.reduceat(closed, first, axis=1).astype(np.int32)
    later = np.where(liq_step > step[:, None], 1, 0).astype(np.int8)
    later &= (step[:, None] >= 0).astype(np.int8)
    after = np.maximum.reduceat(later, first, axis=1).astype(bool) & (count > 0)
    return count, after
