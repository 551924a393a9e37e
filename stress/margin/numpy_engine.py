"""A plain numpy engine: the yardstick the compiled kernels are measured and tested against.

Vectorised over paths and buckets, with a Python loop over time steps and no skipping: the
straightforward way to write the margin rules in numpy. It follows the kernels' arithmetic
order (positions of a bucket summed one slot at a time, in order), so on the same prices it
gives bit-identical results; `benchmarks/bench_engine.py` uses it for the speed ratio.

Every liquidation process and slippage (`stress.margin.processes`, `stress.margin.slippage`)
is here too (`mark_process_numpy`): quantities and collateral are held per path, (n_paths, P)
and (n_paths, B), and a breach is acted on with masks, position slot by position slot.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from stress.margin.engine import MarketRules
from stress.margin.kernels import BucketResults
from stress.margin.layout import Layout
from stress.margin.process_kernels import PartialResults
from stress.margin.processes import FILLABLE_PRICE, FULL_CLOSE, SLICES
from stress.margin.slippage import impact, slippage_cost


def _slots(layout: Layout) -> list[tuple[np.ndarray, np.ndarray]]:
    """For slot j: (buckets that have a j-th position, that position's index)."""
    size = layout.bucket_end - layout.bucket_start
    out = []
    for j in range(int(size.max())):
        buckets = np.flatnonzero(size > j)
        out.append((buckets, layout.bucket_start[buckets] + j))
    return out


def _tier(layout: Layout, notional: np.ndarray, a: np.ndarray | None = None) -> np.ndarray:
    """The tier index of each notional, shape (rows, columns): the columns are every position
    (default) or positions on the assets `a`, one per column."""
    a = layout.pos_asset if a is None else a
    tier = np.zeros(notional.shape, dtype=np.int64)
    for i in range(layout.tier_cap.shape[1] - 1):
        tier += (notional > layout.tier_cap[a, i]) & (i < layout.tier_count[a] - 1)
    return tier


def position_maintenance(
    layout: Layout, notional: np.ndarray, a: np.ndarray | None = None
) -> np.ndarray:
    """Tiered maintenance of each notional, shape (rows, columns): the columns are every
    position (default) or positions on the assets `a`, one per column."""
    a = layout.pos_asset if a is None else a
    tier = _tier(layout, notional, a)
    return notional * layout.tier_mmr[a, tier] - layout.tier_amount[a, tier]


def _bucket_sum(terms: np.ndarray, slots, n_buckets: int) -> np.ndarray:
    """Sum position terms (n_paths, P) into buckets, slot by slot (the kernels' order)."""
    out = np.zeros((terms.shape[0], n_buckets))
    for buckets, pos in slots:
        out[:, buckets] += terms[:, pos]
    return out


def _trigger(qty: np.ndarray, price: np.ndarray, start_prices: np.ndarray, slots, n_buckets):
    """Per bucket, the position whose move since step 0 lost the most, (n_paths, B)."""
    move = qty * (price - start_prices)
    worst = np.full((price.shape[0], n_buckets), np.inf)
    best = np.full((price.shape[0], n_buckets), -1, dtype=np.int32)
    for buckets, pos in slots:
        better = move[:, pos] < worst[:, buckets]
        worst[:, buckets] = np.where(better, move[:, pos], worst[:, buckets])
        best[:, buckets] = np.where(better, pos, best[:, buckets])
    return best


def mark_buckets_numpy(layout: Layout, rules: MarketRules, prices: np.ndarray) -> BucketResults:
    """Per-bucket liquidation step, value kept, bad debt, fee paid and trigger, (n_paths, B).

    Same contract as `stress.margin.engine.mark_chunk`, in plain numpy.
    """
    if not rules.plain:
        return mark_process_numpy(layout, rules, prices)[0]
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
        maint = _bucket_sum(position_maintenance(layout, notional), slots, n_buckets)
        equity = (collateral - paid) + pnl
        hit = alive & (equity <= maint)
        if hit.any():
            fee = rules.liquidation_fee * _bucket_sum(notional, slots, n_buckets)
            kept = np.maximum(equity - fee, 0.0)
            liq_step[hit] = t
            value[hit] = kept[hit]
            bad[hit] = np.maximum(-equity, 0.0)[hit]
            fees[hit] = np.minimum(fee, np.maximum(equity, 0.0))[hit]
            trigger[hit] = _trigger(qty, price, start_prices, slots, n_buckets)[hit]
            alive &= ~hit
    value[alive] = equity[alive]
    return BucketResults(liq_step, value, bad, fees, trigger)


class _State(NamedTuple):
    """Per-path state of every bucket under a process (arrays updated in place)."""

    qty: np.ndarray  # (n_paths, P) this path's quantities
    coll: np.ndarray  # (n_paths, B) collateral, realised PnL of partial closes included
    alive: np.ndarray  # (n_paths, B) bool: not closed whole
    next_slice: np.ndarray  # (n_paths, B) int64: first step a slice may happen
    fees: np.ndarray  # (n_paths, B) fees paid so far
    value: np.ndarray  # (n_paths, B) what the trader keeps (set at a full close)
    bad: np.ndarray  # (n_paths, B)
    count: np.ndarray  # (n_paths, B) int32 partial closes
    cut: np.ndarray  # (n_paths, B) notional cut by them
    closed: np.ndarray  # (n_paths, P) bool


def _close_all(layout, rules, price, equity, qty, slots):
    """(kept, bad debt, fee paid) of closing every position of every bucket, (n_paths, B)."""
    n = np.abs(qty) * price
    notional = _bucket_sum(n, slots, layout.n_buckets)
    eq = equity
    if rules.liquidity is not None:
        liq, a = rules.liquidity, layout.pos_asset
        c = impact(n, a, liq) * n
        if rules.process.kind == FILLABLE_PRICE:
            c = np.minimum(c, rules.process.fill_multiple * position_maintenance(layout, n))
        eq = equity - _bucket_sum(np.where(liq.liquid[a], c, 0.0), slots, layout.n_buckets)
    fee = rules.liquidation_fee * notional
    kept = np.maximum(eq - fee, 0.0) if rules.process.residual_to_trader else np.zeros_like(eq)
    return kept, np.maximum(-eq, 0.0), np.minimum(fee, np.maximum(eq, 0.0))


def _targets(layout, rules, price, qty, hit, equity, slots):
    """Where the breached buckets cut: (mask (n_paths, P), new quantities, whole closes (n_paths,
    B): breaches that close the bucket whole instead, before any cut)."""
    process, n = rules.process, np.abs(qty) * price
    open_ = qty != 0.0
    if process.kind == SLICES:
        keep = 1.0 - process.slice_fraction
        big = n > process.slice_above
        some = _bucket_sum((big & (keep > 0.0)).astype(float), slots, layout.n_buckets) > 0
        cutting = hit & some
        mask = cutting[:, layout.pos_bucket] & open_
        return mask, np.where(mask, np.where(big, qty * keep, 0.0), qty), hit & ~some
    tier = _tier(layout, n)
    above = open_ & (tier >= process.full_close_tiers)
    some = _bucket_sum(above.astype(float), slots, layout.n_buckets) > 0
    cutting = hit & some & (equity >= 0.0)
    cap = layout.tier_cap[layout.pos_asset, np.maximum(tier - 1, 0)]
    mask = cutting[:, layout.pos_bucket] & above
    keep = np.where(mask, cap, 0.0) / price  # the top tier's cap is inf: only the masked ones
    keep = np.where(keep * price > cap, np.nextafter(keep, 0.0), keep)
    return mask, np.where(mask, np.where(qty > 0.0, keep, -keep), qty), hit & ~cutting


def _cut(layout, rules, price, equity, st: _State, mask, new_q, slots):
    """Cut the masked positions to `new_q`, slot by slot: (equity after, notional, fees) per
    bucket, (n_paths, B)."""
    eq = equity.copy()
    total = np.zeros_like(equity)
    fees = np.zeros_like(equity)
    for buckets, pos in slots:
        m = mask[:, pos]
        if not m.any():
            continue
        q, s, a = st.qty[:, pos], price[:, pos], layout.pos_asset[pos]
        dq = q - new_q[:, pos]
        n = np.abs(dq) * s
        cost = np.zeros_like(n)
        if rules.liquidity is not None:
            cost = slippage_cost(n, a, rules.liquidity)
        e = eq[:, buckets] - cost
        fee = np.minimum(rules.liquidation_fee * n, np.maximum(e, 0.0))
        e = e - fee
        gain = (dq * (s - layout.pos_entry[pos]) - cost) - fee
        eq[:, buckets] = np.where(m, e, eq[:, buckets])
        st.coll[:, buckets] = np.where(m, st.coll[:, buckets] + gain, st.coll[:, buckets])
        total[:, buckets] = np.where(m, total[:, buckets] + n, total[:, buckets])
        fees[:, buckets] = np.where(m, fees[:, buckets] + fee, fees[:, buckets])
        st.qty[:, pos] = np.where(m, new_q[:, pos], q)
        st.closed[:, pos] |= m
    return eq, total, fees


def _finish(layout, st: _State, done, kept, bad, fee):
    """Close the `done` buckets whole with what the trader keeps, bad debt and fee."""
    st.value[done] = kept[done]
    st.bad[done] = bad[done]
    st.fees[done] += fee[done]
    np.logical_or(st.closed, done[:, layout.pos_bucket], out=st.closed)
    np.logical_and(st.alive, ~done, out=st.alive)


def _act(layout, rules, t, price, equity, maint, hit, st: _State, slots):
    """Act on the breaches `hit` at step t under the process (see `stress.margin.processes`)."""
    process = rules.process
    if process.kind == FULL_CLOSE or process.kind == FILLABLE_PRICE:
        _finish(layout, st, hit, *_close_all(layout, rules, price, equity, st.qty, slots))
        return
    if process.kind == SLICES:
        backstop = hit & (equity < process.backstop * maint)
        zero = np.zeros_like(equity)
        _finish(layout, st, backstop, zero, np.maximum(-equity, 0.0), zero)
        hit = hit & ~backstop & (t >= st.next_slice)
    mask, new_q, whole = _targets(layout, rules, price, st.qty, hit, equity, slots)
    _finish(layout, st, whole, *_close_all(layout, rules, price, equity, st.qty, slots))
    cutting = hit & ~whole
    eq, total, fees = _cut(layout, rules, price, equity, st, mask, new_q, slots)
    st.count[cutting] += 1
    st.cut[cutting] += total[cutting]
    st.next_slice[cutting] = t + process.cooldown_steps
    bankrupt = cutting & (eq < 0.0)
    kept, bad, fee = _close_all(layout, rules, price, eq, st.qty, slots)
    st.fees[cutting & ~bankrupt] += fees[cutting & ~bankrupt]
    _finish(layout, st, bankrupt, kept, bad, fees + fee)


def mark_process_numpy(layout: Layout, rules: MarketRules, prices: np.ndarray):
    """(BucketResults, PartialResults) under any process: `mark_chunk_partial` in numpy."""
    n_paths, n_times, _ = prices.shape
    shape = (n_paths, layout.n_buckets)
    slots = _slots(layout)
    n_buckets, entry, asset = layout.n_buckets, layout.pos_entry, layout.pos_asset
    st = _State(
        qty=np.tile(layout.pos_qty, (n_paths, 1)),
        coll=np.tile(layout.bucket_collateral, (n_paths, 1)),
        alive=np.ones(shape, dtype=bool),
        next_slice=np.zeros(shape, dtype=np.int64),
        fees=np.zeros(shape),
        value=np.zeros(shape),
        bad=np.zeros(shape),
        count=np.zeros(shape, dtype=np.int32),
        cut=np.zeros(shape),
        closed=np.zeros((n_paths, asset.shape[0]), dtype=bool),
    )
    paid = np.zeros(shape)
    liq_step = np.full(shape, -1, dtype=np.int32)
    trigger = np.full(shape, -1, dtype=np.int32)
    start_prices = prices[:, 0, :][:, asset]
    for t in range(n_times):
        price = prices[:, t, :][:, asset]
        rate = rules.funding[t]
        if rate != 0.0:
            paid += _bucket_sum(st.qty * price * rate, slots, n_buckets)
        pnl = _bucket_sum(st.qty * (price - entry), slots, n_buckets)
        maint = _bucket_sum(position_maintenance(layout, np.abs(st.qty) * price), slots, n_buckets)
        equity = (st.coll - paid) + pnl
        hit = st.alive & (equity <= maint)
        if hit.any():
            first = hit & (liq_step < 0)
            liq_step[first] = t
            trigger[first] = _trigger(layout.pos_qty, price, start_prices, slots, n_buckets)[first]
            _act(layout, rules, t, price, equity, maint, hit, st, slots)
    pnl = _bucket_sum(st.qty * (prices[:, -1, :][:, asset] - entry), slots, n_buckets)
    st.value[st.alive] = ((st.coll - paid) + pnl)[st.alive]
    return (
        BucketResults(liq_step, st.value, st.bad, st.fees, trigger),
        PartialResults(st.count, st.cut, st.closed),
    )
