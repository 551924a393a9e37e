"""Compiled GJR-GARCH recursion along drawn innovations (the model: `stress.paths.garch`).

Each asset's variance depends only on its own innovations (constant conditional correlation), so
the kernels run per (path, asset) through the bars. Per bar, with ``s2`` the conditional variance:

    r       = d - s2 * f(s2) + sqrt(s2) * eps       (f: the tabulated c(sigma) / sigma**2)
    s2_next = min(omega + ((alpha + gamma 1{eps < 0}) eps**2 + beta) s2, sigma2_max)

Set STRESS_NUMBA_CACHE=0 to compile without the on-disk cache.
"""

from __future__ import annotations

import math
import os

from numba import njit

CACHE = os.environ.get("STRESS_NUMBA_CACHE", "1") != "0"


@njit(cache=CACHE, inline="always")
def next_variance(s2, e, omega, alpha, gamma, beta, sigma2_max):
    """The GJR-GARCH(1,1) update of one bar, capped at ``sigma2_max``."""
    lev = alpha + gamma if e < 0.0 else alpha
    return min(omega + (lev * e * e + beta) * s2, sigma2_max)


@njit(cache=CACHE, inline="always")
def compensator(s2, sigma, coef, inv_step):
    """``c = log E[exp(sigma eps)]`` (``s2 = sigma**2``) from one asset's table ``coef``
    (n_intervals, 4) of `stress.paths.garch_compensator`; no intervals: exactly ``s2 / 2``."""
    n = coef.shape[0]
    if n == 0:
        return 0.5 * s2
    x = sigma * inv_step
    j = min(int(x), n - 1)
    w = x - j
    return s2 * (coef[j, 0] + w * (coef[j, 1] + w * (coef[j, 2] + w * coef[j, 3])))


@njit(cache=CACHE)
def garch_returns(eps, sigma2, drift, params, sigma2_max, coef, inv_step, out):
    """Per-bar log returns along innovations; ``sigma2`` ends as the variance after the last bar.

    Parameters
    ----------
    eps : (n_paths, n_bars, n_assets) float64
        Unit-variance innovations.
    sigma2 : (n_paths, n_assets) float64
        In: each path's variance of its first bar (capped at ``sigma2_max`` on use). Out: the
        variance of the bar after the last.
    drift : (n_assets,) float64
        Per-bar log drift ``d``: ``E[exp(r) | sigma] = exp(d)``.
    params : (4, n_assets) float64
        Rows omega, alpha, gamma, beta of the recursion.
    sigma2_max : float
    coef : (n_assets, n_intervals, 4) float64
        Compensator tables (n_intervals 0: normal innovations).
    inv_step : float
        1 / the tables' grid step in ``sigma`` (the grid starts at 0).
    out : (n_paths, n_bars, n_assets) float64
        The returns; may be ``eps`` itself (each cell is read before it is written).
    """
    n_paths, n_bars, n_assets = eps.shape
    for p in range(n_paths):
        for i in range(n_assets):
            omega, alpha, gamma, beta = params[0, i], params[1, i], params[2, i], params[3, i]
            s2 = min(sigma2[p, i], sigma2_max)
            table = coef[i]
            for t in range(n_bars):
                e = eps[p, t, i]
                sigma = math.sqrt(s2)
                out[p, t, i] = drift[i] - compensator(s2, sigma, table, inv_step) + sigma * e
                s2 = next_variance(s2, e, omega, alpha, gamma, beta, sigma2_max)
            sigma2[p, i] = s2


@njit(cache=CACHE)
def burn_in(eps, sigma2, params, sigma2_max):
    """Run the variance recursion alone along ``eps`` (n_paths, n_bars, n_assets), updating
    ``sigma2`` (n_paths, n_assets) in place (the burn-in of a stationary start); ``params`` as
    in :func:`garch_returns`."""
    n_paths, n_bars, n_assets = eps.shape
    for p in range(n_paths):
        for i in range(n_assets):
            omega, alpha, gamma, beta = params[0, i], params[1, i], params[2, i], params[3, i]
            s2 = min(sigma2[p, i], sigma2_max)
            for t in range(n_bars):
                s2 = next_variance(s2, eps[p, t, i], omega, alpha, gamma, beta, sigma2_max)
            sigma2[p, i] = s2
