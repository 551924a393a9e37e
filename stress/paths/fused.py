"""Compiled passes that turn log increments into prices, and GBM drawn in cache-sized pieces.

Every pass here does exactly the arithmetic numpy did before it (the same operations in the same
order, no fused multiply-adds, no reassociation), so the prices are the same bits:

- ``cumulate_nb``: ``np.cumsum`` along the steps, a running sum per (path, asset);
- ``scale_nb``: ``prices *= s0``, which numpy broadcasts slowly over a last axis of 2-4 assets;
- ``gbm_cumulate_nb``: GBM's ``inc = corr * (vol sqrt(dt)); inc += mu dt`` fused into the sum.

The exponential stays numpy's (``np.exp`` in place): a compiled ``exp`` rounds differently in
the last bit on a few percent of values. GBM's block is drawn in pieces of `PIECE_PATHS` paths
with the block's one generator, in order, which draws the same normals as drawing the block at
once (a normal consumes the stream in sequence; nothing is buffered between calls), so each
piece's normals, correlated normals and prices stay in cache.

All kernels release the GIL: blocks are filled on several threads (`stress.paths.generate`).
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit

CACHE = os.environ.get("STRESS_NUMBA_CACHE", "1") != "0"

PIECE_PATHS = 32
"""Paths drawn and turned into prices at a time within a GBM block (cache-sized; any value
gives the same prices)."""


@njit(cache=CACHE, nogil=True)
def cumulate_nb(inc, out):
    """``out[:, 1:, :] = np.cumsum(inc, axis=1)``; inc (m, n, a), out (m, n + 1, a)."""
    m, n, a = inc.shape
    for p in range(m):
        for i in range(a):
            acc = 0.0
            for t in range(n):
                acc = acc + inc[p, t, i]
                out[p, t + 1, i] = acc


@njit(cache=CACHE, nogil=True)
def gbm_cumulate_nb(corr, scale, mu, out):
    """``out[:, 1:, :] = np.cumsum(corr * scale + mu, axis=1)``, rounded as numpy rounds
    ``inc = corr; inc *= scale; inc += mu`` and then sums."""
    m, n, a = corr.shape
    for p in range(m):
        for i in range(a):
            acc = 0.0
            s = scale[i]
            d = mu[i]
            for t in range(n):
                x = corr[p, t, i] * s
                x = x + d
                acc = acc + x
                out[p, t + 1, i] = acc


@njit(cache=CACHE, nogil=True)
def scale_nb(out, s0):
    """``out[:, 1:, :] *= s0`` (per asset)."""
    m, n1, a = out.shape
    for p in range(m):
        for t in range(1, n1):
            for i in range(a):
                out[p, t, i] = out[p, t, i] * s0[i]


def prices_from_log(out: np.ndarray, s0: np.ndarray) -> None:
    """Turn the cumulated log moves in ``out[:, 1:, :]`` into prices and set step 0 to s0."""
    out[:, 0, :] = s0  # exactly S0, not S0 * exp(0.0) computed some other way
    later = out[:, 1:, :]
    np.exp(later, out=later)
    scale_nb(out, s0)


def prices_from_increments(out: np.ndarray, inc: np.ndarray, s0: np.ndarray) -> None:
    """``out`` (m, n_steps + 1, n_assets): ``s0`` at step 0, then ``s0 exp(cumsum(inc))``, the
    bits numpy's cumsum, exp and multiply give (inc (m, n_steps, n_assets))."""
    cumulate_nb(inc, out)
    prices_from_log(out, s0)


def gbm_block(
    out: np.ndarray,
    rng: np.random.Generator,
    factor: np.ndarray,
    scale: np.ndarray,
    mu: np.ndarray,
    s0: np.ndarray,
) -> None:
    """Fill ``out`` (m, n_steps + 1, n_assets) with GBM prices from ``rng``, piece by piece.

    The same numbers as ``stress.paths.gbm.log_increments`` cumulated and exponentiated: the
    normals (``rng.standard_normal``) in the same order, correlated by the same ``z @ factor.T``,
    then the fused pass. Paths past ``m`` are not drawn: nothing after them in the block's
    stream is used.
    """
    m, n1, n_assets = out.shape
    z = np.empty((min(PIECE_PATHS, m), n1 - 1, n_assets))
    for p0 in range(0, m, PIECE_PATHS):
        k = min(PIECE_PATHS, m - p0)
        piece = z[:k]
        rng.standard_normal(out=piece)
        if n_assets == 1:
            piece *= factor[0, 0]
            corr = piece
        else:
            corr = piece @ factor.T
        gbm_cumulate_nb(corr, scale, mu, out[p0 : p0 + k])
        prices_from_log(out[p0 : p0 + k], s0)
