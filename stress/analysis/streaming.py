"""Run statistics accumulated chunk by chunk, so memory stays flat however many paths run.

Counts, sums, per-position liquidations, partial closes (under a process that has them), ADL
closes (in a scenario with ADL) and the
time-to-liquidation histogram are exact. The
loss distribution is kept as a per-book histogram (count and sum of the losses in each bin) on
[-W, W], W = max(initial equity, wallet), which bounds every loss from above because a trader
never ends below zero equity. VaR and ES read from it are exact up to one bin width (W / 1024),
reported as ``loss_resolution``. The run uses these only when it cannot keep every path's
results (see `stress.pipeline.simulate.keep_paths_for`); otherwise the exact per-path metrics
are used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stress.analysis.metrics import (
    RUIN_FRACTION,
    TTL_QUANTILES,
    VAR_LEVELS,
    tail_ranks,
    wilson_interval,
)
from stress.margin.aggregate import accumulate_nb
from stress.margin.engine import PathResults
from stress.margin.layout import Layout
from stress.threads import run_slices

LOSS_BINS = 2048


@dataclass
class StreamStats:
    """Accumulated per-book (K) and per-position (P) statistics of all paths seen so far."""

    n: int
    n_liq: np.ndarray  # (K,) int64
    n_ruin: np.ndarray  # (K,) int64
    sum_loss: np.ndarray  # (K,) float64
    sum_bad: np.ndarray  # (K,) float64
    max_bad: np.ndarray  # (K,) float64
    sum_fees: np.ndarray  # (K,) float64
    pos_liq: np.ndarray  # (P,) int64
    pos_trig: np.ndarray  # (P,) int64
    ttl_hist: np.ndarray  # (K, n_steps + 1) int64: first-liquidation step counts
    loss_scale: np.ndarray  # (K,) float64: W, the histogram covers [-W, W]
    loss_count: np.ndarray  # (K, LOSS_BINS + 2) int64: underflow, bins, overflow
    loss_sum: np.ndarray  # (K, LOSS_BINS + 2) float64
    ruin_level: np.ndarray  # (K,) float64
    # partial closes (processes other than full_close; None otherwise): paths with at least one,
    # their count and the notional they closed, summed over the paths
    partial_paths: np.ndarray | None = None  # (K,) int64
    partial_sum: np.ndarray | None = None  # (K,) int64
    partial_notional_sum: np.ndarray | None = None  # (K,) float64
    # ADL (scenarios with it only): paths where it closed a position of the book, and those of
    # them liquidated after it
    adl_paths: np.ndarray | None = None  # (K,) int64
    adl_liq_paths: np.ndarray | None = None  # (K,) int64

    @classmethod
    def empty(
        cls, layout: Layout, n_steps: int, partial: bool = False, adl: bool = False
    ) -> StreamStats:
        k, p = layout.n_books, layout.pos_qty.shape[0]
        scale = np.maximum(np.abs(layout.book_initial_equity), layout.book_wallet)
        return cls(
            n=0,
            n_liq=np.zeros(k, dtype=np.int64),
            n_ruin=np.zeros(k, dtype=np.int64),
            sum_loss=np.zeros(k),
            sum_bad=np.zeros(k),
            max_bad=np.zeros(k),
            sum_fees=np.zeros(k),
            pos_liq=np.zeros(p, dtype=np.int64),
            pos_trig=np.zeros(p, dtype=np.int64),
            ttl_hist=np.zeros((k, n_steps + 1), dtype=np.int64),
            loss_scale=scale,
            loss_count=np.zeros((k, LOSS_BINS + 2), dtype=np.int64),
            loss_sum=np.zeros((k, LOSS_BINS + 2)),
            ruin_level=RUIN_FRACTION * layout.book_wallet,
            partial_paths=np.zeros(k, dtype=np.int64) if partial else None,
            partial_sum=np.zeros(k, dtype=np.int64) if partial else None,
            partial_notional_sum=np.zeros(k) if partial else None,
            adl_paths=np.zeros(k, dtype=np.int64) if adl else None,
            adl_liq_paths=np.zeros(k, dtype=np.int64) if adl else None,
        )

    def update(self, layout: Layout, chunk: PathResults) -> None:
        """Add one chunk's per-path results (all of shape (m, K) or (m, P))."""
        self.n += chunk.final_equity.shape[0]
        arrays = (
            chunk.loss(layout),
            chunk.first_liq_step,
            chunk.bad_debt,
            chunk.fees_paid,
            chunk.final_equity,
            self.ruin_level,
            self.loss_scale,
            self.n_liq,
            self.n_ruin,
            self.sum_loss,
            self.sum_bad,
            self.max_bad,
            self.sum_fees,
            self.ttl_hist,
            self.loss_count,
            self.loss_sum,
        )
        run_slices(lambda k0, k1: accumulate_nb(*arrays, k0, k1), layout.n_books, min_rows=16)
        self.pos_liq += chunk.pos_liquidated.sum(axis=0)
        self.pos_trig += chunk.pos_triggered.sum(axis=0)
        if self.partial_paths is not None:
            self.partial_paths += (chunk.partial_closes > 0).sum(axis=0)
            self.partial_sum += chunk.partial_closes.sum(axis=0, dtype=np.int64)
            self.partial_notional_sum += chunk.partial_notional.sum(axis=0)
        if self.adl_paths is not None:
            self.adl_paths += (chunk.adl_closed > 0).sum(axis=0)
            self.adl_liq_paths += chunk.adl_liquidated.sum(axis=0)


def _hist_var_es(count: np.ndarray, total: np.ndarray, scale: float, n: int, a: float):
    """VaR (ceil(a n)-th smallest loss) and ES (mean of the worst ceil((1-a) n)) from a histogram.

    Within the bin holding the VaR rank the losses are taken as evenly spread, so both numbers
    are exact up to one bin width (the underflow and overflow bins use their mean).
    """
    width = 2.0 * scale / LOSS_BINS
    rank, m = tail_ranks(n, a)
    cum = np.cumsum(count)
    b = int(np.searchsorted(cum, rank))  # the bin holding the rank-th smallest loss
    in_bin = int(count[b])
    below = int(cum[b]) - in_bin
    mean_bin = float(total[b]) / in_bin
    take = m - (int(cum[-1]) - int(cum[b]))  # the worst losses that fall in bin b itself
    if 0 < b <= LOSS_BINS:
        lo_edge = -scale + (b - 1) * width
        var = lo_edge + (rank - below - 0.5) / in_bin * width
        # the top `take` of the bin, spread evenly around its actual mean, capped at its edge
        top = min(mean_bin + (1.0 - take / in_bin) * width / 2.0, lo_edge + width)
    else:
        var = top = mean_bin
    es = (float(total[b + 1 :].sum()) + take * top) / m
    return float(var), float(max(es, var))


def _ttl_quantiles(hist: np.ndarray, step_hours: float) -> dict[str, float] | None:
    """numpy.quantile's linear interpolation over the liquidation steps, from their counts."""
    total = int(hist.sum())
    if total == 0:
        return None
    cum = np.cumsum(hist)
    out = {}
    for tag, q in TTL_QUANTILES.items():
        h = (total - 1) * q
        lo, hi = math.floor(h), math.ceil(h)
        s_lo = int(np.searchsorted(cum, lo + 1))
        s_hi = int(np.searchsorted(cum, hi + 1))
        out[tag] = float((s_lo + (h - lo) * (s_hi - s_lo)) * step_hours)
    return out


def stream_book_metrics(stats: StreamStats, k: int, step_hours: float) -> dict:
    """`stress.analysis.metrics.book_metrics` for book k, from the accumulated statistics."""
    n = stats.n
    k_liq = int(stats.n_liq[k])
    p = k_liq / n
    lo, hi = wilson_interval(k_liq, n)
    out: dict = {
        "p_liquidation": p,
        "p_liquidation_ci": [lo, hi],
        "p_liquidation_se": math.sqrt(p * (1.0 - p) / n),
        "p_ruin": float(stats.n_ruin[k] / n),
        "expected_loss": float(stats.sum_loss[k] / n),
    }
    tails = {
        tag: _hist_var_es(stats.loss_count[k], stats.loss_sum[k], stats.loss_scale[k], n, a)
        for tag, a in VAR_LEVELS.items()
    }
    for tag in VAR_LEVELS:
        out[f"var_{tag}"] = tails[tag][0]
    for tag in VAR_LEVELS:
        out[f"es_{tag}"] = tails[tag][1]
    out["bad_debt_mean"] = float(stats.sum_bad[k] / n)
    out["bad_debt_max"] = float(stats.max_bad[k])
    out["fees_paid_mean"] = float(stats.sum_fees[k] / n)
    out["time_to_liquidation_hours"] = _ttl_quantiles(stats.ttl_hist[k], step_hours)
    out["loss_resolution"] = float(2.0 * stats.loss_scale[k] / LOSS_BINS)
    if stats.partial_paths is not None:
        out.update(stream_partial_metrics(stats, k))
    if stats.adl_paths is not None:
        out["p_adl"] = float(stats.adl_paths[k] / stats.n)
        out["p_liquidation_after_adl"] = float(stats.adl_liq_paths[k] / stats.n)
    return out


def stream_partial_metrics(stats: StreamStats, k: int) -> dict[str, float]:
    """`stress.analysis.metrics.partial_close_metrics` for book k, from the accumulated sums."""
    n = stats.n
    return {
        "p_partial_close": float(stats.partial_paths[k] / n),
        "partial_closes_mean": float(stats.partial_sum[k] / n),
        "partial_notional_mean": float(stats.partial_notional_sum[k] / n),
    }
