"""A plain numpy engine: the yardstick the compiled kernels are measured and tested against.

Vectorised over paths and buckets, with a Python loop over time steps and no skipping: the
straightforward way to write the margin rules in numpy. It follows the kernels' arithmetic
order (positions of a bucket summed one slot at a time, in order), so on the same prices it
gives bit-identical results; `benchmarks/bench_engine.py` uses it for the speed ratio.
"""

from __future__ import annotations

import numpy as np

from stress.margin.engine import MarketRules
from stress.margin.kernels import BucketResults
from stress.margin.layout import Layout


def _slots(layout: Layout) -> list[tuple[np.ndarray, np.ndarray]]:
    """For slot j: (buckets that have a j-th position, that position's index)."""
    size = layout.bucket_end - layout.bucket_start
    out = []
    for j in range(int(size.max())):
        buckets = np.flatnonzero(size > j)
        out.append((buckets, layout.bucket_start[buckets] + j))
    return out


def _maintenance(layout: Layout, notional: np.ndarray) -> np.ndarray:
    """Tiered maintenance of every position, notional shape (n_paths, P)."""
    a = layout.pos_asset
    tier = np.zeros(notional.shape, dtype=np.int64)
    for i in range(layout.tier_cap.shape[1] - 1):
        tier += (notional > layout.tier_cap[a, i]) & (i < layout.tier_count[a] - 1)
    return notional * layout.tier_mmr[a, tier] - layout.tier_amount[a, tier]


def _bucket_sum(terms: np.ndarray, slots, n_buckets: int) -> np.ndarray:
    """Sum position terms (n_paths, P) into buckets, slot by slot (the kernels' order)."""
    out = np.zeros((terms.shape[0], n_buckets))
    for buckets, pos in slots:
        out[:, buckets] += terms[:, pos]
    return out


def mark_buckets_numpy(layout: Layout, rules: MarketRules, prices: np.ndarray) -> BucketResults:
    """Per-bucket liquidation step, value kept, bad debt, fee paid and trigger, (n_paths, B).

    Same contract as `stress.margin.engine.mark_chunk`, in plain numpy.
    """
    n_paths, n_times, _ = prices.shape
    n_buckets = layout.n_buckets
    slots = _slots(layout)
    qty, entry, asset = layout.pos_qty, layout.pos_entry, layout.pos_asset
    collateral = layout.bucket_collateral[None, :]
    alive = np.ones((n_paths, n_buckets), dtype=bool)
    paid = np.zeros((n_paths, n_buckets))
    liq_step = np.full((n_paths, n_buckets), -1, dtype=np.int32)
    value = np.zeros((n_paths, n_buckets))
    bad = np.zeros((n_paths, n_buckets))
    fees = np.zeros((n_paths, n_buckets))
    trigger = np.full((n_paths, n_buckets), -1, dtype=np.int32)
    start_prices = prices[:, 0, :][:, asset]
    equity = np.zeros((n_paths, n_buckets))
    for t in range(n_times):
        price = prices[:, t, :][:, asset]  # (n_paths, P)
        rate = rules.funding[t]
        if rate != 0.0:
            paid += _bucket_sum(qty * price * rate, slots, n_buckets)
        notional = np.abs(qty) * price
        pnl = _bucket_sum(qty * (price - entry), slots, n_buckets)
        maint = _bucket_sum(_maintenance(layout, notional), slots, n_buckets)
        equity = (collateral - paid) + pnl
        hit = alive & (equity <= maint)
        if hit.any():
            fee = rules.liquidation_fee * _bucket_sum(notional, slots, n_buckets)
            kept = np.maximum(equity - fee, 0.0)
            liq_step[hit] = t
            value[hit] = kept[hit]
            bad[hit] = np.maximum(-equity, 0.0)[hit]
            fees[hit] = np.minimum(fee, np.maximum(equity, 0.0))[hit]
            move = qty * (price - start_prices)
            worst = np.full((n_paths, n_buckets), np.inf)
            best = np.full((n_paths, n_buckets), -1, dtype=np.int32)
            for buckets, pos in slots:
                better = move[:, pos] < worst[:, buckets]
                worst[:, buckets] = np.where(better, move[:, pos], worst[:, buckets])
                best[:, buckets] = np.where(better, pos, best[:, buckets])
            trigger[hit] = best[hit]
            alive &= ~hit
    value[alive] = equity[alive]
    return BucketResults(liq_step, value, bad, fees, trigger)
