"""Compiled marking of buckets under a liquidation process other than today's plain close.

`stress.margin.kernels.mark_buckets_nb` closes a breached bucket whole, at the mark, the
residual to the trader; the engine runs it whenever that is the configured process and no market
has a book (`stress.margin.slippage`), so those runs are untouched. Every other run comes here:
each bucket is marked with its configured positions, skipping safe stretches exactly as there,
up to its first breach (`scan_bucket_nb`); then the process acts (`stress.margin.processes`).
A full close ends the bucket. A partial close copies the bucket's positions into a local bucket
(quantities of this path only; the shared arrays are read-only) and marks it step by step from
the next step on, acting again at each breach, until a full close or the horizon.

A scenario's ADL (`stress.margin.adl`) runs here too, whatever the process: on a path where it
fires, a bucket with a position ADL selected is marked step by step up to that step
(`scan_to_nb`), then as after a partial close, its selected open positions closed at that step.
Every other bucket is marked as without ADL.

As in `stress.margin.kernels`, the parallel kernel binds every output field to a local name
before its prange loop (numba drops writes made there through a named tuple's attribute).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from stress.margin.adl import adl_close_nb, adl_select_nb, adl_step_nb
from stress.margin.kernels import (
    BLOCK,
    CACHE,
    GROUP,
    Buckets,
    Outcome,
    Scan,
    funding_nb,
    price_extremes_nb,
    scan_bucket_nb,
    surplus_parts_nb,
    trigger_nb,
)
from stress.margin.processes import (
    FILLABLE_PRICE,
    FULL_CLOSE,
    SLICES,
    close_all_nb,
    slice_nb,
    step_down_nb,
)


class PartialResults(NamedTuple):
    """Partial closes of a chunk of paths: per bucket (n_paths, B), per position (n_paths, P)."""

    count: np.ndarray  # int32: partial closes of the bucket on the path
    notional: np.ndarray  # float64: notional closed by them, at the mark
    pos_closed: np.ndarray  # bool: the position was closed, in part or whole, by a liquidation


@njit(cache=CACHE)
def breach_nb(
    prices, t, equity, maint, waiting, local, market, tiers, process, liquidity, closed, first
):
    """Act on a breach of the local bucket at step t.

    Returns (finished, cut, equity after, notional cut, fees paid, kept, bad debt): `cut` when
    a partial close happened, `finished` when the bucket is closed (what the trader keeps and
    the bad debt are then set). `waiting`: a slice's cooldown is not over; `first`: the index
    in `closed` of the local bucket's first position.
    """
    if process.kind == SLICES:
        if equity < process.backstop * maint:
            closed[first : first + local.bucket_end[0]] = True
            return True, False, equity, 0.0, 0.0, 0.0, max(-equity, 0.0)
        if waiting:
            return False, False, equity, 0.0, 0.0, 0.0, 0.0
        eq, cut_n, fees = slice_nb(
            prices, t, equity, local, market, process, liquidity, closed, first
        )
    elif equity < 0.0 or process.kind == FULL_CLOSE or process.kind == FILLABLE_PRICE:
        # (whole-close processes reach here only after an ADL close: `mark_adl_nb`)
        eq, cut_n, fees = equity, -1.0, 0.0
    else:
        eq, cut_n, fees = step_down_nb(
            prices, t, equity, local, market, tiers, process, liquidity, closed, first
        )
    cut = cut_n >= 0.0
    if cut and eq >= 0.0:
        return False, True, eq, cut_n, fees, 0.0, 0.0
    # every position in the lowest tiers, a slice that would leave nothing, or bankrupt after
    # the cut: the rest is closed whole
    kept, bad, fee = close_all_nb(prices, t, eq, 0, market, local, tiers, process, liquidity)
    closed[first : first + local.bucket_end[0]] = True
    return True, cut, eq, max(cut_n, 0.0), fees + fee, kept, bad


@njit(cache=CACHE)
def mark_partial_nb(
    prices, t, paid, equity, maint, b, market, buckets, tiers, process, liquidity, trace, closed,
    adl_t, select,
):  # fmt: skip
    """From step t on (its funding paid, equity and maintenance given): act at every breach,
    close the positions ADL selected at step `adl_t` (after that step's check), mark step by
    step between.

    `closed` is the path's per-position row, `select` its ADL selection (P,). Returns
    (Outcome, partial closes, notional cut, positions ADL closed).
    """
    start, end = buckets.bucket_start[b], buckets.bucket_end[b]
    n_pos = end - start
    # the local bucket (one bucket, positions 0..n_pos): this path's quantities and collateral
    local = Buckets(
        buckets.pos_asset[start:end],
        buckets.pos_qty[start:end].copy(),
        buckets.pos_entry[start:end],
        np.zeros(1, dtype=np.int64),
        np.full(1, n_pos, dtype=np.int64),
        np.full(1, buckets.bucket_collateral[b]),
    )
    funding = market.funding
    n_times = prices.shape[0]
    recording = trace.shape[0] == n_times
    first, trigger = -1, -1
    count, cut_total, fees, n_adl = 0, 0.0, 0.0, 0
    next_slice = t
    while t < n_times:
        if equity <= maint:
            if first < 0:
                first = t
                trigger = start + trigger_nb(prices, t, 0, n_pos, local)
            finished, cut, eq, cut_n, fee, kept, bad = breach_nb(
                prices, t, equity, maint, t < next_slice, local, market, tiers, process,
                liquidity, closed, start,
            )  # fmt: skip
            fees += fee
            if cut:
                count += 1
                cut_total += cut_n
                next_slice = t + process.cooldown_steps
                if recording:
                    trace[t] = eq
            if finished:
                if recording:
                    trace[t:] = kept
                return Outcome(first, kept, bad, fees, trigger), count, cut_total, n_adl
        if t == adl_t:
            n_adl += adl_close_nb(prices, t, local, select, start)
        t += 1
        if t < n_times:
            if funding[t] != 0.0:
                paid += funding_nb(prices, t, funding[t], 0, n_pos, local)
            pnl, maint, _ = surplus_parts_nb(prices, t, 0, n_pos, local, tiers)
            equity = (local.bucket_collateral[0] - paid) + pnl
            if recording:
                trace[t] = equity
    pnl, _, _ = surplus_parts_nb(prices, n_times - 1, 0, n_pos, local, tiers)
    value = (local.bucket_collateral[0] - paid) + pnl
    return Outcome(first, value, 0.0, fees, trigger), count, cut_total, n_adl


@njit(cache=CACHE)
def scan_to_nb(prices, b, market, buckets, tiers, stop, trace):
    """`scan_bucket_nb` step by step, stopped at step `stop`: the first breach up to it, else
    (-1, and the funding paid, equity and maintenance at `stop`)."""
    start, end = buckets.bucket_start[b], buckets.bucket_end[b]
    collateral = buckets.bucket_collateral[b]
    funding = market.funding
    recording = trace.shape[0] == prices.shape[0]
    paid, equity, maint, notional = 0.0, 0.0, 0.0, 0.0
    for t in range(stop + 1):
        if funding[t] != 0.0:
            paid += funding_nb(prices, t, funding[t], start, end, buckets)
        pnl, maint, notional = surplus_parts_nb(prices, t, start, end, buckets, tiers)
        equity = (collateral - paid) + pnl
        if recording:
            trace[t] = equity
        if equity <= maint:
            return Scan(t, paid, equity, maint, notional)
    return Scan(-1, paid, equity, maint, notional)


@njit(cache=CACHE)
def close_bucket_nb(prices, scan, b, market, buckets, tiers, process, liquidity, trace, closed):
    """A whole-close process at the bucket's first breach (`scan`): (Outcome, 0, 0.0, 0)."""
    t = scan.step
    start, end = buckets.bucket_start[b], buckets.bucket_end[b]
    kept, bad, fee = close_all_nb(
        prices, t, scan.equity, b, market, buckets, tiers, process, liquidity
    )
    if trace.shape[0] == prices.shape[0]:
        trace[t:] = kept
    closed[start:end] = True
    trigger = trigger_nb(prices, t, start, end, buckets)
    return Outcome(t, kept, bad, fee, trigger), 0, 0.0, 0


@njit(cache=CACHE)
def mark_bucket_process_nb(
    prices, b, market, buckets, tiers, process, liquidity, lo, hi, skip, trace, closed, adl_t,
    select,
):  # fmt: skip
    """Mark bucket `b` along one path under the process: (Outcome, partial closes, notional,
    positions ADL closed).

    Parameters: as `stress.margin.kernels.scan_bucket_nb`, plus the `Process`, the
    `stress.margin.slippage.Liquidity`, `closed`, the path's (P,) row of per-position flags
    (the bucket's are written), `adl_t`, the step ADL fires at on the path (-1: never), and
    `select`, the path's (P,) ADL selection (`stress.margin.adl.adl_select_nb`).
    """
    start, end = buckets.bucket_start[b], buckets.bucket_end[b]
    closed[start:end] = False
    whole = process.kind == FULL_CLOSE or process.kind == FILLABLE_PRICE
    if adl_t >= 0 and select[start:end].any():
        scan = scan_to_nb(prices, b, market, buckets, tiers, adl_t, trace)
        if scan.step >= 0 and whole:
            return close_bucket_nb(
                prices, scan, b, market, buckets, tiers, process, liquidity, trace, closed
            )
        t = scan.step if scan.step >= 0 else adl_t
        return mark_partial_nb(
            prices, t, scan.paid, scan.equity, scan.maint, b, market, buckets, tiers, process,
            liquidity, trace, closed, adl_t, select,
        )  # fmt: skip
    scan = scan_bucket_nb(prices, b, market, buckets, tiers, lo, hi, skip, trace)
    if scan.step < 0:
        return Outcome(-1, scan.equity, 0.0, 0.0, -1), 0, 0.0, 0
    if whole:
        return close_bucket_nb(
            prices, scan, b, market, buckets, tiers, process, liquidity, trace, closed
        )
    return mark_partial_nb(
        prices, scan.step, scan.paid, scan.equity, scan.maint, b, market, buckets, tiers,
        process, liquidity, trace, closed, adl_t, select,
    )  # fmt: skip


@njit(cache=CACHE, parallel=True)
def mark_buckets_process_nb(
    prices, market, buckets, tiers, process, liquidity, skip, out, partial, out_trace, adl,
    uniforms, adl_out,
):  # fmt: skip
    """Mark every bucket along every path of a chunk under the process.

    Parameters
    ----------
    prices, market, buckets, tiers, skip, out, out_trace : as
        `stress.margin.kernels.mark_buckets_nb`
    process : `stress.margin.processes.Process`
    liquidity : `stress.margin.slippage.Liquidity` (every asset without a book: fills at the mark)
    partial : PartialResults, written
    adl : `stress.margin.adl.Adl` (``window`` 0: none)
    uniforms : ndarray (n_paths, P), the ADL draws (unread without ADL)
    adl_out : `stress.margin.adl.AdlResults`, written
    """
    n_paths, n_times, n_assets = prices.shape
    n_buckets = buckets.bucket_collateral.shape[0]
    n_blocks = (n_times + BLOCK - 1) // BLOCK
    n_rows = n_blocks + (n_blocks + GROUP - 1) // GROUP + 1
    record = out_trace.shape[0] == n_paths
    no_trace = np.empty(0)
    liq_step, value, bad_debt, fees_paid = out.liq_step, out.value, out.bad_debt, out.fees_paid
    trigger = out.trigger
    count, notional, pos_closed = partial.count, partial.notional, partial.pos_closed
    adl_step, adl_closed = adl_out.step, adl_out.closed
    for i in prange(n_paths):
        path = prices[i]
        lo = np.empty((n_rows, n_assets))
        hi = np.empty((n_rows, n_assets))
        price_extremes_nb(path, lo, hi)
        closed = pos_closed[i]
        select = np.zeros(buckets.pos_qty.shape[0], dtype=np.bool_)
        adl_t = adl_step_nb(path, adl) if adl.window > 0 else -1
        if adl_t >= 0:
            adl_select_nb(path, adl_t, buckets, adl, uniforms[i], select)
        adl_step[i] = adl_t
        for b in range(n_buckets):
            trace = out_trace[i, b] if record else no_trace
            outcome, n_cut, cut, n_adl = mark_bucket_process_nb(
                path, b, market, buckets, tiers, process, liquidity, lo, hi, skip, trace, closed,
                adl_t, select,
            )  # fmt: skip
            liq_step[i, b] = outcome.step
            value[i, b] = outcome.value
            bad_debt[i, b] = outcome.bad_debt
            fees_paid[i, b] = outcome.fee_paid
            trigger[i, b] = outcome.trigger
            count[i, b] = n_cut
            notional[i, b] = cut
            adl_closed[i, b] = n_adl
